"""Targeted fixes to Rasa Open Source 3.6 internals, applied once on import.

Each fix states what it corrects; remove it when Rasa fixes the cause.
"""
from __future__ import annotations

import copy
import functools
import itertools
from typing import Any, Dict, Iterable, List, Set, Text

from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker

_ORIGINAL_APPLIED_EVENTS = DialogueStateTracker.applied_events


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


def apply() -> None:
    from rasa.core.actions.action import RemoteAction

    # Rasa checks the action-response JSON schema itself on every custom
    # action call (``jsonschema.validate``), about 25 ms per call on this
    # machine; check it once and reuse the validator.
    RemoteAction._validate_action_result = _validate_action_result_with_cached_validator
    # The processor copies the tracker before every action, and Rasa's copy
    # replays every event of the conversation: turn 200 pays for 200 turns.
    DialogueStateTracker.copy = clone_tracker
    # applied_events() runs several times per message over the whole history.
    DialogueStateTracker.applied_events = incremental_applied_events


apply()
