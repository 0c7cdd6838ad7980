"""Targeted fixes to Rasa Open Source 3.6 internals, applied once on import.

Each fix states what it corrects; remove it when Rasa fixes the cause.
"""
from __future__ import annotations

import copy
import functools
import itertools
from typing import Any, Dict, Iterable, List, Set, Text

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

_ORIGINAL_APPLIED_EVENTS = DialogueStateTracker.applied_events

# Rasa's own versions of what apply() replaces (for the tests), set by apply().
ORIGINALS: Dict[Text, Any] = {}


def clone_tracker(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """An independent copy of ``tracker`` built without replaying its events.

    Events are never changed once logged, so the copy shares them; everything
    the tracker mutates (event list, slots, active loop, latest action) is copied.
    """
    clone = copy.copy(tracker)
    clone.events = tracker._create_events(list(tracker.events))
    clone.slots = {name: copy.copy(slot) for name, slot in tracker.slots.items()}
    clone.active_loop = copy.deepcopy(tracker.active_loop)
    clone.latest_action = copy.copy(tracker.latest_action)
    return clone


def incremental_applied_events(tracker: DialogueStateTracker) -> List[Event]:
    """Rasa's ``applied_events``, continued from the last call on this tracker.

    Rasa recomputes it from the first event several times per message. The
    computation is a left fold over the events, except that the set of loop
    names is taken from all events: when new events bring a new loop name,
    or the tracker's events are not the ones folded before, start over.
    """
    events = tracker.events
    count = len(events)
    cached = tracker.__dict__.get("_applied_events_cache")
    if cached is not None:
        done, last_event, loop_names, applied = cached
        if 0 < done <= count and events[done - 1] is last_event:
            new_events = list(itertools.islice(events, done, count))
            if _loop_names(new_events) <= loop_names:
                applied = list(applied)
                _fold_applied(tracker, new_events, loop_names, applied)
                return _remember_applied(tracker, events, count, loop_names, applied)
    loop_names = _loop_names(events)
    applied = []
    _fold_applied(tracker, events, loop_names, applied)
    return _remember_applied(tracker, events, count, loop_names, applied)


def _loop_names(events: Iterable[Event]) -> Set[Text]:
    return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}


def _fold_applied(
    tracker: DialogueStateTracker, events: Iterable[Event], loop_names: Set[Text], applied: List[Event]
) -> None:
    # The same steps as DialogueStateTracker.applied_events in Rasa 3.6.
    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)


def _remember_applied(
    tracker: DialogueStateTracker, events: Any, count: int, loop_names: Set[Text], applied: List[Event]
) -> List[Event]:
    if count:
        tracker.__dict__["_applied_events_cache"] = (count, events[count - 1], loop_names, applied)
    # Callers may change the list they get; the cached one stays private.
    return list(applied)


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """Rasa's check of an action server's answer, with each event checked by its own type.

    Rasa's schema lists the 23 event types under ``oneOf``: every event is
    tried against all of them, and each mismatch builds an error object. The
    types differ in their ``event`` constant, so an event is valid exactly
    when it is valid for the type its ``event`` names. An answer that fails
    the quick check goes through Rasa's schema, for Rasa's error.
    """
    if _passes_by_event_type(result):
        return True
    return _validate_with_rasas_schema(result)


def _passes_by_event_type(result: Any) -> bool:
    if not _response_envelope_validator().is_valid(result):
        return False
    by_type = _event_validators()
    for event in result.get("events") or []:
        kind = event.get("event") if isinstance(event, dict) else None
        validator = by_type.get(kind) if isinstance(kind, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _validate_with_rasas_schema(result: Any) -> bool:
    from jsonschema import ValidationError

    try:
        _full_response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your "
            "response from the Action endpoint is valid."
        )
        raise error


def _rasas_response_schema() -> Dict[Text, Any]:
    from rasa.core.actions.action import RemoteAction

    return RemoteAction.action_response_format_spec()


@functools.lru_cache(maxsize=None)
def _full_response_validator() -> Any:
    return _validator_for(_rasas_response_schema())


@functools.lru_cache(maxsize=None)
def _response_envelope_validator() -> Any:
    """Rasa's schema with the events only required to be a list (each is checked by its type)."""
    schema = copy.deepcopy(_rasas_response_schema())
    schema["properties"]["events"] = {"type": "array"}
    return _validator_for(schema)


@functools.lru_cache(maxsize=None)
def _event_validators() -> Dict[Text, Any]:
    """For each event type (its ``event`` constant), the schema an event of that type must meet."""
    event_schema = _rasas_response_schema()["properties"]["events"]["items"]
    common = {key: value for key, value in event_schema.items() if key != "oneOf"}
    return {
        alternative["properties"]["event"]["const"]: _validator_for({**common, "allOf": [alternative]})
        for alternative in event_schema["oneOf"]
    }


def _validator_for(schema: Dict[Text, Any]) -> Any:
    from jsonschema.validators import validator_for

    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


# --- Custom action calls ---------------------------------------------------
#
# On every custom action call Rasa sends the tracker with *all* its events
# (``current_state(EventVerbosity.ALL)``), serialised afresh: at turn 200 of a
# conversation about 1,000 events and 570 kB of JSON, which Rasa writes and the
# action server parses on every call, so each call costs more as the
# conversation grows.
#
# Fixed here: the call carries the events of the current session from the
# action_listen before the user's last ACTION_CALL_USER_MESSAGES messages on
# (the whole session when it is shorter), and every other field of the tracker
# state exactly as Rasa makes it (slots, latest_message, active_loop, ...).
# The actions read slots and the latest message from those fields and only
# look back a few messages in the events (the handoff summary, a case's
# story), so they answer the same.

ACTION_CALL_USER_MESSAGES = 10
_SESSION_STARTS = (SessionStarted, Restarted)


def recent_call_events(events: Iterable[Event], user_messages: int = ACTION_CALL_USER_MESSAGES) -> List[Event]:
    """The events an action call carries: the current session, its last ``user_messages`` messages at most."""
    events = list(events)
    seen = 0
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, _SESSION_STARTS):
            return events[index:]
        if isinstance(event, UserUttered):
            seen += 1
            if seen == user_messages:
                return events[_listen_before(events, index):]
    return events


def _listen_before(events: List[Event], index: int) -> int:
    previous = index - 1
    is_listen = previous >= 0 and isinstance(events[previous], ActionExecuted) and (
        events[previous].action_name == ACTION_LISTEN_NAME
    )
    return previous if is_listen else index


def action_call_with_recent_events(self: Any, tracker: DialogueStateTracker, domain: Any) -> Dict[Text, Any]:
    """``RemoteAction._action_call_format`` sending only :func:`recent_call_events`.

    The same body as Rasa 3.6 builds, except ``tracker.events``.
    """
    import rasa

    tracker_state = tracker.current_state(EventVerbosity.NONE)
    tracker_state["events"] = [event.as_dict() for event in recent_call_events(tracker.events)]
    result = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker_state,
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(
        self.name()
    ):
        result["domain"] = domain.as_dict()
    return result


def form_tracker_without_replay(
    self: Any, current_tracker: DialogueStateTracker, additional_events: List[Event], domain: Any
) -> DialogueStateTracker:
    """``FormAction._temporary_tracker``: the tracker's clone with the form's new events.

    Rasa builds it by replaying every event of the session, twice per form
    turn. The clone has the same state without the replay; like Rasa's, it
    marks the form's execution so that its new events can be told apart.
    """
    from rasa.shared.core.constants import REQUESTED_SLOT

    temporary = clone_tracker(current_tracker)
    marks = [SlotSet(REQUESTED_SLOT, self.get_slot_to_fill(current_tracker)), ActionExecuted(self.name())]
    for event in marks + list(additional_events):
        temporary.update(event)
    return temporary


# --- Combining sparse features ---------------------------------------------
#
# DIET reads each message's sparse features from three featurizers, combined
# with scipy.sparse.hstack: about 0.5 ms per call for 1-row matrices, four
# calls per message. Two COO matrices side by side are their entries with the
# second's columns shifted; this builds exactly what hstack builds (bmat's
# dtype, index dtype and entry order) without its general-purpose checks.

def combine_sparse_features(self: Any, additional_features: Any) -> None:
    """``Features._combine_sparse_features`` with a direct COO concatenation."""
    from scipy.sparse import coo_matrix

    ours, theirs = self.features, additional_features.features
    if not (type(ours) is coo_matrix and type(theirs) is coo_matrix and ours.shape[0] == theirs.shape[0]):
        ORIGINALS["combine_sparse_features"](self, additional_features)
        return
    self.features = hstack_coo(ours, theirs)
    self._cached_fingerprint = None


def hstack_coo(left: Any, right: Any) -> Any:
    """``scipy.sparse.hstack([left, right])`` for two COO matrices with as many rows."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse._sputils import get_index_dtype, upcast

    shape = (left.shape[0], left.shape[1] + right.shape[1])
    index_dtype = get_index_dtype(maxval=max(shape))
    data = np.concatenate([left.data, right.data]).astype(upcast(left.dtype, right.dtype), copy=False)
    row = np.concatenate([left.row.astype(index_dtype), right.row.astype(index_dtype)])
    col = np.concatenate([left.col.astype(index_dtype), right.col.astype(index_dtype) + left.shape[1]])
    return coo_matrix((data, (row, col)), shape=shape)


def apply() -> None:
    import rasa.core.processor
    from rasa.core.actions.action import RemoteAction
    from rasa.core.actions.forms import FormAction
    from rasa.shared.nlu.training_data.features import Features

    from bot.graph_runner import SequentialGraphRunner

    if ORIGINALS:
        return
    ORIGINALS.update(
        action_call_format=RemoteAction._action_call_format,
        form_temporary_tracker=FormAction._temporary_tracker,
        prediction_graph_runner=rasa.core.processor.DaskGraphRunner,
        combine_sparse_features=Features._combine_sparse_features,
    )

    # Rasa compiles the action-response JSON schema on every custom action
    # call (about 25 ms on this machine) and tries each event against every
    # event type: see validate_action_result.
    RemoteAction._validate_action_result = validate_action_result
    # The processor copies the tracker before every action, and Rasa's copy
    # replays every event of the conversation: turn 200 pays for 200 turns.
    DialogueStateTracker.copy = clone_tracker
    # applied_events() runs several times per message over the whole history.
    DialogueStateTracker.applied_events = incremental_applied_events
    # Every custom action call serialised the whole conversation (see
    # "Custom action calls" above), and every form turn replayed it.
    RemoteAction._action_call_format = action_call_with_recent_events
    FormAction._temporary_tracker = form_tracker_without_replay
    # Dask re-plans the prediction graph on every call (bot/graph_runner.py).
    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner
    Features._combine_sparse_features = combine_sparse_features


apply()
