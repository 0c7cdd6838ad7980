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


def _validate_action_result_with_cached_validator(self: Any, result: Dict[Text, Any]) -> bool:
    from jsonschema import ValidationError

    try:
        _action_response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your "
            "response from the Action endpoint is valid."
        )
        raise error


@functools.lru_cache(maxsize=None)
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
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


def apply() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.actions.forms import FormAction

    if ORIGINALS:
        return
    ORIGINALS.update(
        action_call_format=RemoteAction._action_call_format,
        form_temporary_tracker=FormAction._temporary_tracker,
    )

    # Rasa checks the action-response JSON schema itself on every custom
    # action call (``jsonschema.validate``), about 25 ms per call on this
    # machine; check it once and reuse the validator.
    RemoteAction._validate_action_result = _validate_action_result_with_cached_validator
    # The processor copies the tracker before every action, and Rasa's copy
    # replays every event of the conversation: turn 200 pays for 200 turns.
    DialogueStateTracker.copy = clone_tracker
    # applied_events() runs several times per message over the whole history.
    DialogueStateTracker.applied_events = incremental_applied_events
    # Every custom action call serialised the whole conversation (see
    # "Custom action calls" above), and every form turn replayed it.
    RemoteAction._action_call_format = action_call_with_recent_events
    FormAction._temporary_tracker = form_tracker_without_replay


apply()
