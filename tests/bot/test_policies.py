"""Policies that read the recent window see exactly the states the full history gives."""
from __future__ import annotations

import random
from typing import List

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    Event,
    FollowupAction,
    LoopInterrupted,
    SlotSet,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies import recent_tracker

DOMAIN = Domain.from_dict({
    "intents": ["refund", "logistics", "deny", "inform"],
    "slots": {
        "order_known": {"type": "bool", "influence_conversation": True, "mappings": [{"type": "custom"}]},
        "topic": {"type": "categorical", "values": ["refund", "parcel"], "influence_conversation": True,
                  "mappings": [{"type": "custom"}]},
        "refund_order": {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]},
    },
    "actions": ["refund_form", "action_refund_status"],
    "forms": {"refund_form": {"required_slots": ["refund_order"]}},
    "responses": {"utter_refund": [{"text": "r"}], "utter_logistics": [{"text": "l"}],
                  "utter_ask_refund_order": [{"text": "?"}]},
})
RULE_ONLY = {"rule_only_slots": ["order_known"], "rule_only_loops": []}
FORM = "refund_form"


class Conversation:
    """Random conversations the way Rasa logs them: forms with happy and unhappy
    paths, rule-only (hidden) turns, follow-up actions and reverted turns."""

    def __init__(self, seed: int, hidden_share: float = 0.5) -> None:
        self.random = random.Random(seed)
        self.hidden_share = hidden_share
        self.events: List[Event] = [ActionExecuted("action_listen")]
        self.form_active = False

    def action(self, name: str) -> None:
        self.events.append(ActionExecuted(name, hide_rule_turn=self.random.random() < self.hidden_share))

    def user(self) -> None:
        intent = self.random.choice(["refund", "logistics", "deny", "inform"])
        self.events.append(UserUttered("x", {"name": intent, "confidence": 1.0}))
        if self.random.random() < 0.3:
            self.events.append(SlotSet("topic", self.random.choice(["refund", "parcel", None])))
        if self.random.random() < 0.2:
            self.events.append(SlotSet("order_known", self.random.random() < 0.5))

    def turn(self) -> None:
        self.user()
        roll = self.random.random()
        if self.form_active:
            self.form_turn(roll)
        elif roll < 0.25:
            self.action(FORM)
            self.events += [ActiveLoop(FORM), SlotSet("requested_slot", "refund_order")]
            self.form_active = True
        elif roll < 0.3:
            self.events.append(FollowupAction("utter_refund"))
            self.action("utter_refund")
        else:
            self.action(self.random.choice(["utter_refund", "utter_logistics"]))
        if roll > 0.97:
            self.events.append(self.random.choice([UserUtteranceReverted(), ActionReverted()]))
        self.action("action_listen")

    def form_turn(self, roll: float) -> None:
        if roll < 0.5:  # happy path: the form takes the answer and asks again, or ends
            self.action(FORM)
            if self.random.random() < 0.5:
                self.events.append(SlotSet("refund_order", str(self.random.random())))
                self.events += [SlotSet("requested_slot", None), ActiveLoop(None)]
                self.action("action_refund_status")
                self.form_active = False
        elif roll < 0.7:  # unhappy path: rejected, a rule answers, the form resumes
            self.events.append(ActionExecutionRejected(FORM))
            self.action("utter_logistics")
            if self.random.random() < 0.5:
                self.events.append(LoopInterrupted(True))
                self.action(FORM)
        elif roll < 0.8:  # stopped
            self.events += [ActiveLoop(None), SlotSet("requested_slot", None)]
            self.action("utter_refund")
            self.form_active = False
        else:  # a question in between, the form asks again later
            self.action("utter_logistics")

    def tracker(self, turns: int) -> DialogueStateTracker:
        for _ in range(turns):
            self.turn()
        return DialogueStateTracker.from_events("t", self.events, slots=DOMAIN.slots)


def same_view(recent: DialogueStateTracker, tracker: DialogueStateTracker) -> None:
    assert recent.current_slot_values() == tracker.current_slot_values()
    assert recent.active_loop == tracker.active_loop
    assert recent.latest_message == tracker.latest_message
    assert recent.latest_action == tracker.latest_action
    assert recent.followup_action == tracker.followup_action


@pytest.mark.parametrize("seed", range(60))
def test_rule_states_of_the_window_are_the_last_states_of_the_conversation(seed):
    tracker = Conversation(seed).tracker(turns=120)
    recent = recent_tracker(tracker, DOMAIN, recent_actions=12)
    assert len(recent.events) < 80 < len(tracker.events)
    assert recent.past_states(DOMAIN)[-8:] == tracker.past_states(DOMAIN)[-8:]
    same_view(recent, tracker)


@pytest.mark.parametrize("seed", range(60))
def test_story_states_of_the_window_are_the_last_story_states(seed):
    tracker = Conversation(seed).tracker(turns=120)
    recent = recent_tracker(tracker, DOMAIN, recent_actions=12, story_actions=5)
    assert len(recent.events) < len(tracker.events)
    ml_states = dict(ignore_rule_only_turns=True, rule_only_data=RULE_ONLY)
    assert recent.past_states(DOMAIN, **ml_states)[-5:] == tracker.past_states(DOMAIN, **ml_states)[-5:]
    same_view(recent, tracker)


@pytest.mark.parametrize("seed", range(20))
def test_a_conversation_stuck_in_one_form_is_still_cut(seed):
    conversation = Conversation(seed)
    conversation.events += [ActionExecuted(FORM), ActiveLoop(FORM)]
    conversation.form_active = True
    for _ in range(60):
        conversation.user()
        conversation.form_turn(conversation.random.choice([0.1, 0.6, 0.9]))
        conversation.form_active = True
        conversation.action("action_listen")
    tracker = DialogueStateTracker.from_events("t", conversation.events, slots=DOMAIN.slots)
    recent = recent_tracker(tracker, DOMAIN, recent_actions=12)
    assert len(recent.events) < len(tracker.events) / 3
    assert recent.past_states(DOMAIN)[-8:] == tracker.past_states(DOMAIN)[-8:]
    same_view(recent, tracker)


def test_story_turns_older_than_the_limit_are_not_looked_for():
    tracker = Conversation(3, hidden_share=1.0).tracker(turns=200)
    recent = recent_tracker(tracker, DOMAIN, recent_actions=12, story_actions=5, max_actions=60)
    actions = sum(isinstance(event, ActionExecuted) for event in recent.events)
    assert 60 <= actions < 70


def test_a_short_conversation_is_used_as_it_is():
    tracker = Conversation(1).tracker(turns=3)
    assert recent_tracker(tracker, DOMAIN, recent_actions=12) is tracker
