"""HandoffPolicy: while a person has the conversation, messages go to the ticket."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies import HandoffPolicy

DOMAIN = Domain.from_dict({
    "intents": ["ask_hotline", "resume_bot", "request_human"],
    "slots": {"handoff_ticket": {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]}},
    "actions": ["action_relay_to_agent", "action_resume_bot", "action_handoff"],
    "responses": {"utter_hotline": [{"text": "h"}]},
})


@pytest.fixture
def policy(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    return HandoffPolicy.create(HandoffPolicy.get_default_config(), storage, Resource("handoff"), context)


def tracker(*events):
    return DialogueStateTracker.from_events("s", [ActionExecuted("action_listen"), *events], slots=DOMAIN.slots)


def said(intent):
    return UserUttered("x", {"name": intent, "confidence": 1.0})


def predicted(policy, tracker_):
    prediction = policy.predict_action_probabilities(tracker_, DOMAIN)
    if max(prediction.probabilities) == 0:
        return None
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


def test_without_a_handoff_it_stays_out_of_the_way(policy):
    assert predicted(policy, tracker(said("ask_hotline"))) is None


def test_during_a_handoff_any_message_is_relayed_then_the_bot_listens(policy):
    paused = [SlotSet("handoff_ticket", "T20261125-0001"), ActionExecuted("action_listen")]
    assert predicted(policy, tracker(*paused, said("ask_hotline"))) == "action_relay_to_agent"
    after_relay = tracker(*paused, said("ask_hotline"), ActionExecuted("action_relay_to_agent"))
    assert predicted(policy, after_relay) == "action_listen"


def test_asking_for_the_bot_back_resumes_it(policy):
    paused = [SlotSet("handoff_ticket", "T20261125-0001"), ActionExecuted("action_listen")]
    assert predicted(policy, tracker(*paused, said("resume_bot"))) == "action_resume_bot"
    resumed = tracker(*paused, said("resume_bot"), ActionExecuted("action_resume_bot"), SlotSet("handoff_ticket", None))
    assert predicted(policy, resumed) == "action_listen"


def test_restart_keeps_rasas_own_handling(policy):
    paused = [SlotSet("handoff_ticket", "T20261125-0001"), ActionExecuted("action_listen")]
    assert predicted(policy, tracker(*paused, said("restart"))) is None


def test_it_outranks_the_rule_policy(policy):
    from rasa.core.policies.rule_policy import RulePolicy

    assert policy.priority > RulePolicy.get_default_config()["priority"]
