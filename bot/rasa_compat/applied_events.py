"""Patch: ``DialogueStateTracker.applied_events`` continued from its last result.

Replaces: ``rasa.shared.core.trackers.DialogueStateTracker.applied_events``.

Why: Rasa recomputes the applied events from the first event of the
conversation several times per message, so each message costs more as the
conversation grows. The computation is a left fold over the events, except
that the set of loop names is taken from all events: the fold continues from
where the last call on this tracker stopped, and starts over when the new
events bring a new loop name or the tracker's events are not the ones folded
before.

Measured: part of the long-conversation work that took a late turn of a
200-turn conversation from 3.5x an early turn's time (25 -> 97 ms) to the
same (``bench/profile_turns.py``); tested equal to Rasa's after every event of
40 random conversations with forms, reverts, restarts and sessions
(tests/bot/test_rasa_fixes.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_compat.patch import Patch


def incremental_applied_events(tracker: DialogueStateTracker) -> list[Event]:
    """Rasa's ``applied_events``, continued from the last call on this tracker."""
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


def _loop_names(events: Iterable[Event]) -> set[str]:
    return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}


def _fold_applied(
    tracker: DialogueStateTracker, events: Iterable[Event], loop_names: set[str], applied: list[Event]
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
    tracker: DialogueStateTracker, events: Any, count: int, loop_names: set[str], applied: list[Event]
) -> list[Event]:
    if count:
        tracker.__dict__["_applied_events_cache"] = (count, events[count - 1], loop_names, applied)
    # Callers may change the list they get; the cached one stays private.
    return list(applied)


PATCH = Patch(
    module="rasa.shared.core.trackers",
    owner="DialogueStateTracker",
    attribute="applied_events",
    replacement=incremental_applied_events,
    upstream_sha256="764d5065ea9997d613c1984d9357370f9ae32d31ca21346086f16c54f0487aae",
)
