"""Patch: a form's temporary tracker is a clone, not a replay.

Replaces: ``rasa.core.actions.forms.FormAction._temporary_tracker``.

Why: to tell the form's new events apart, Rasa builds a temporary tracker by
replaying every event of the session, twice per form turn. The clone
(tracker_copy.clone_tracker) has the same state without the replay; like
Rasa's, it marks the form's execution (``requested_slot`` and the form's
``action_executed``) before adding the form's new events.

Measured: part of the long-conversation work that took a late turn of a
200-turn conversation from 3.5x an early turn's time (25 -> 97 ms) to the
same (``bench/profile_turns.py``); tested to give the same tracker state as
Rasa's (tests/bot/test_rasa_fixes.py).
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import ActionExecuted, Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_compat.patch import Patch
from bot.rasa_compat.tracker_copy import clone_tracker


def form_tracker_without_replay(
    self: Any, current_tracker: DialogueStateTracker, additional_events: list[Event], domain: Any
) -> DialogueStateTracker:
    """``FormAction._temporary_tracker``: the tracker's clone with the form's new events."""
    temporary = clone_tracker(current_tracker)
    marks = [SlotSet(REQUESTED_SLOT, self.get_slot_to_fill(current_tracker)), ActionExecuted(self.name())]
    for event in marks + list(additional_events):
        temporary.update(event)
    return temporary


PATCH = Patch(
    module="rasa.core.actions.forms",
    owner="FormAction",
    attribute="_temporary_tracker",
    replacement=form_tracker_without_replay,
    upstream_sha256="381bc4b6e07fc205a4189558635d11392464a81d89499188542246f8376d8ee7",
)
