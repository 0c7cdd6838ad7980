"""FrustrationPolicy and RatingReplyPolicy: the turn plans they predict."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies import FrustrationPolicy, RatingReplyPolicy

DOMAIN = Domain.from_dict({
    "intents": ["complaint", "logistics", "refund", "inform", "rate", "request_human", "greet"],
    "entities": ["frustration", "order_id"],
    "slots": {"handoff_ticket": {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]}},
    "actions": ["action_acknowledge_frustration", "action_handoff", "action_store_rating", "action_refund_status",
                "action_relay_to_agent"],
    "forms": {"logistics_form": {"required_slots": []}, "refund_form": {"required_slots": []},
              "complaint_form": {"required_slots": []}},
    "responses": {"utter_escalate": [{"text": "e"}]},
})
ANGRY = [{"entity": "frustration", "value": "insult", "start": 0, "end": 2}]
RATING_BUTTONS = [{"title": f"{n}分", "payload": f'/rate{{"rating": "{n}"}}'} for n in range(1, 6)]


def create(policy_class, tmp_path):
    context = ExecutionContext(GraphSchema({}), "test")
    return policy_class.create(policy_class.get_default_config(), LocalModelStorage(tmp_path), Resource("p"), context)


def tracker(*events):
    return DialogueStateTracker.from_events("s", [ActionExecuted("action_listen"), *events], slots=DOMAIN.slots)


def said(text, intent, entities=()):
    return UserUttered(text, {"name": intent, "confidence": 1.0}, list(entities),
                       {"text": text, "intent": {"name": intent}, "entities": list(entities)})


def predicted(policy, tracker_):
    prediction = policy.predict_action_probabilities(tracker_, DOMAIN)
    if max(prediction.probabilities) == 0:
        return None
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


def plan(policy, *events):
    """Every action the policy predicts for the turn, running each as it goes."""
    steps = []
    events = list(events)
    while (action := predicted(policy, tracker(*events))) is not None:
        steps.append(action)
        events.append(ActionExecuted(action))
        if action == "action_listen" or len(steps) > 6:
            break
    return steps


@pytest.fixture
def frustration_policy(tmp_path):
    return create(FrustrationPolicy, tmp_path)


@pytest.fixture
def rating_policy(tmp_path):
    return create(RatingReplyPolicy, tmp_path)


def test_a_calm_message_is_left_to_the_other_policies(frustration_policy):
    assert plan(frustration_policy, said("我要投诉", "complaint")) == []


def test_venting_with_no_subject_is_acknowledged_then_goes_to_a_person(frustration_policy):
    assert plan(frustration_policy, said("垃圾客服", "complaint", ANGRY)) == [
        "action_acknowledge_frustration", "utter_escalate", "action_handoff", "action_listen"]


def test_venting_about_a_parcel_is_acknowledged_then_the_form_takes_over(frustration_policy):
    assert plan(frustration_policy, said("等了八天了还不发货 垃圾", "logistics", ANGRY)) == [
        "action_acknowledge_frustration", "logistics_form"]


def test_inside_a_form_the_first_angry_answer_keeps_the_form(frustration_policy):
    events = [said("查快递", "logistics"), ActionExecuted("logistics_form"), ActiveLoop("logistics_form"),
              ActionExecuted("action_listen"), said("261122-482913004417265 快点!!", "inform", ANGRY)]
    assert plan(frustration_policy, *events) == ["action_acknowledge_frustration", "logistics_form"]


def test_a_second_angry_message_goes_to_a_person_even_inside_a_case(frustration_policy):
    events = [said("等了八天了 垃圾", "logistics", ANGRY), ActionExecuted("action_acknowledge_frustration"),
              ActionExecuted("logistics_form"), ActiveLoop("logistics_form"), ActionExecuted("action_listen"),
              said("到底管不管 气死了", "logistics", ANGRY)]
    assert plan(frustration_policy, *events) == [
        "action_acknowledge_frustration", "utter_escalate", "action_handoff", "action_listen"]


def test_while_a_person_has_the_conversation_it_stands_aside(frustration_policy):
    events = [SlotSet("handoff_ticket", "T20261125-0001"), ActionExecuted("action_listen"),
              said("垃圾", "complaint", ANGRY)]
    assert plan(frustration_policy, *events) == []


def rating_asked():
    return [said("退款到哪了", "refund"), ActionExecuted("action_refund_status"),
            BotUttered("这次的解答对您有帮助吗？", {"buttons": RATING_BUTTONS}), ActionExecuted("action_listen")]


@pytest.mark.parametrize("score", ["4", "４", "4分", "五星"])
def test_a_bare_score_after_the_rating_question_is_stored(rating_policy, score):
    assert plan(rating_policy, *rating_asked(), said(score, "nlu_fallback")) == ["action_store_rating", "action_listen"]


def test_an_order_number_after_the_rating_question_is_not_a_rating(rating_policy):
    assert plan(rating_policy, *rating_asked(), said("261122-482913004417265", "inform")) == []


def test_a_bare_digit_without_the_question_is_not_a_rating(rating_policy):
    assert plan(rating_policy, said("4", "inform")) == []


def test_the_question_counts_only_for_the_next_message(rating_policy):
    later = [*rating_asked(), said("你好", "greet"), ActionExecuted("utter_greet"), ActionExecuted("action_listen")]
    assert plan(rating_policy, *later, said("4", "inform")) == []


def test_an_angry_rating_is_acknowledged_then_stored(frustration_policy):
    events = [*rating_asked(), said("1分!!!", "rate", [{"entity": "frustration", "value": "exasperation"}])]
    assert plan(frustration_policy, *events) == ["action_acknowledge_frustration", "action_store_rating", "action_listen"]
