"""Patch: ``DialogueStateTracker.copy`` without replaying the conversation.

Replaces: ``rasa.shared.core.trackers.DialogueStateTracker.copy``.

Why: the processor copies the tracker before every action, and Rasa's copy
builds a new tracker and replays every event of the conversation into it, so
turn 200 pays for 200 turns. Events are never changed once logged, so the
copy shares them; everything the tracker mutates (the event list, slots,
active loop, latest action) is copied. :func:`clone_tracker` is also what the
form patch (form_tracker.py) and the caching tracker store
(bot/stores/tracker_store.py) use.

Measured: together with the applied-events, form and action-call patches and
the recent-window policies, a late turn of a 200-turn conversation went from
about 3.5x the time of an early one (25 -> 97 ms, ``bench/profile_turns.py``)
to the same time; tested to give the same state as Rasa's copy
(tests/bot/test_rasa_fixes.py).
"""

from __future__ import annotations

import copy

from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_compat.patch import Patch


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


PATCH = Patch(
    module="rasa.shared.core.trackers",
    owner="DialogueStateTracker",
    attribute="copy",
    replacement=clone_tracker,
    upstream_sha256="dfa48dca9f355ad1b42c625bc6f6370bafe83514ed17a77904ed64c67bf07285",
)
