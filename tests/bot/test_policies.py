"""Policies that read the recent window predict exactly what the full history gives."""
from __future__ import annotations

import random

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered, UserUtteranceReverted
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies import recent_tracker

DOMAIN = Domain.from_dict({
    "intents": ["refund", "logistics", "deny"],
    "slots": {
        "order_known": {"type": "bool", "influence_conversation": True, "mappings": [{"type": "custom"}]},
        "topic": {"type": "categorical", "values": ["refund", "parcel"], "influence_conversation": True,
                  "mappings": [{"type": "custom"}]},
    },
    "actions": ["refund_form"],
    "forms": {"refund_form": {"required_slots": []}},
    "responses": {"utter_refund": [{"text": "r"}], "utter_logistics": [{"text": "l"}]},
})


def conversation(seed: int, turns: int, loops: bool = False, reverts: bool = False):
    generator = random.Random(seed)
    events = [ActionExecuted("action_listen")]
    for _ in range(turns):
        intent = generator.choice(["refund", "logistics", "deny"])
        events.append(UserUttered("x", {"name": intent, "confidence": 1.0}))
        if generator.random() < 0.3:
            events.append(SlotSet("topic", generator.choice(["refund", "parcel", None])))
        if generator.random() < 0.2:
            events.append(SlotSet("order_known", generator.random() < 0.5))
        if loops and generator.random() < 0.1:
            events += [ActionExecuted("refund_form"), ActiveLoop(generator.choice(["refund_form", None]))]
        if reverts and generator.random() < 0.05:
            events.append(UserUtteranceReverted())
        events += [ActionExecuted(f"utter_{'refund' if intent == 'refund' else 'logistics'}"),
                   ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events("t", events, slots=DOMAIN.slots)


@pytest.mark.parametrize("seed", range(30))
def test_recent_window_has_the_same_last_states_as_the_whole_conversation(seed):
    tracker = conversation(seed, turns=80)
    recent = recent_tracker(tracker, DOMAIN, recent_actions=12)
    assert len(recent.events) < 60 < len(tracker.events)
    assert recent.past_states(DOMAIN)[-8:] == tracker.past_states(DOMAIN)[-8:]
    assert recent.current_slot_values() == tracker.current_slot_values()
    assert recent.active_loop_name == tracker.active_loop_name


@pytest.mark.parametrize("seed", range(30))
def test_with_reverted_messages_the_last_states_still_match(seed):
    tracker = conversation(seed, turns=80, reverts=True)
    recent = recent_tracker(tracker, DOMAIN, recent_actions=12)
    assert recent.past_states(DOMAIN)[-8:] == tracker.past_states(DOMAIN)[-8:]
    assert recent.current_slot_values() == tracker.current_slot_values()


@pytest.mark.parametrize("seed", range(10))
def test_with_a_form_active_the_whole_conversation_is_used(seed):
    tracker = conversation(seed, turns=80, loops=True)
    tracker.update(ActiveLoop("refund_form"))
    assert recent_tracker(tracker, DOMAIN, recent_actions=12) is tracker


def test_a_short_conversation_is_used_as_it_is():
    tracker = conversation(1, turns=3)
    assert recent_tracker(tracker, DOMAIN, recent_actions=12) is tracker
