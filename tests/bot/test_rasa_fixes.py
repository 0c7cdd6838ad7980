"""The Rasa 3.6 fixes keep Rasa's results exactly, only faster."""
from __future__ import annotations

import random

import pytest
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_fixes


def random_events(seed: int, count: int):
    generator = random.Random(seed)
    makers = [
        lambda: ActionExecuted("action_listen"),
        lambda: UserUttered("hi", {"name": generator.choice(["refund", "logistics"]), "confidence": 1.0}),
        lambda: ActionExecuted(generator.choice(["utter_refund", "utter_logistics", "refund_form"])),
        lambda: ActiveLoop(generator.choice(["refund_form", None])),
        lambda: SlotSet("order_id", str(generator.randint(1, 9))),
        lambda: UserUtteranceReverted(),
        lambda: ActionReverted(),
        lambda: SessionStarted() if generator.random() < 0.3 else Restarted(),
    ]
    weights = [20, 20, 20, 4, 6, 3, 3, 1]
    return [generator.choices(makers, weights)[0]() for _ in range(count)]


def tracker_with(events):
    return DialogueStateTracker.from_events("t", events, slots=[TextSlot("order_id", mappings=[])])


@pytest.mark.parametrize("seed", range(40))
def test_incremental_applied_events_equal_rasas_after_every_new_event(seed):
    tracker = DialogueStateTracker("t", [TextSlot("order_id", mappings=[])])
    for event in random_events(seed, 120):
        tracker.update(event)
        assert rasa_fixes.incremental_applied_events(tracker) == rasa_fixes._ORIGINAL_APPLIED_EVENTS(tracker)


def test_callers_changing_the_returned_list_do_not_change_the_next_answer():
    tracker = tracker_with(random_events(1, 50))
    first = rasa_fixes.incremental_applied_events(tracker)
    first.clear()
    assert rasa_fixes.incremental_applied_events(tracker) == rasa_fixes._ORIGINAL_APPLIED_EVENTS(tracker)


@pytest.mark.parametrize("seed", range(10))
def test_clone_has_the_state_a_replayed_copy_has(seed):
    tracker = tracker_with(random_events(seed, 150))
    clone = rasa_fixes.clone_tracker(tracker)
    replayed = tracker.travel_back_in_time(float("inf"))
    assert clone.current_state() == replayed.current_state()
    assert list(clone.events) == list(replayed.events)


def test_changing_a_clone_leaves_the_original_alone():
    tracker = tracker_with([ActionExecuted("action_listen"), SlotSet("order_id", "1")])
    clone = rasa_fixes.clone_tracker(tracker)
    clone.update(SlotSet("order_id", "2"))
    clone.update(ActiveLoop("refund_form"))
    assert tracker.get_slot("order_id") == "1"
    assert tracker.active_loop_name is None
    assert len(tracker.events) == 2
