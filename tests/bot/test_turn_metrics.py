"""bot/rasa_compat/turn_metrics.py: what one turn of the dialogue adds to the metrics.

The running bot's own counts are checked in tests/bot/test_metrics.py; here the
turns are written out, so every reason and edge is seen on its own.
"""
from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered

from bot.rasa_compat.turn_metrics import count_turn

SESSION_START = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


def said(text, intent, channel="rest"):
    return UserUttered(text, {"name": intent, "confidence": 0.9}, input_channel=channel)


def did(*actions, policy="policy_2_RecentTurnsRulePolicy"):
    return [ActionExecuted(name, policy=policy) for name in actions]


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counts():
    return {
        "conversations": value("triage_conversations_total", channel="rest"),
        "wechat conversations": value("triage_conversations_total", channel="wechat"),
        "nlu_fallback": value("triage_nlu_fallbacks_total", intent="nlu_fallback"),
        "out_of_scope": value("triage_nlu_fallbacks_total", intent="out_of_scope"),
        "escalated conversations": value("triage_escalated_conversations_total"),
        **{reason: value("triage_escalations_total", reason=reason)
           for reason in ("asked_for_human", "frustration", "not_understood_twice", "none_of_the_topics",
                          "low_policy_confidence")},
    }


def turn(before, message, actions):
    """Count the turn answering ``message`` with ``actions`` after the events ``before``; what changed."""
    start = counts()
    events = [*before, message, SlotSet("x", None), *actions] if message else [*before, *actions]
    count_turn(events, len(events) - len(actions))
    end = counts()
    return {name: end[name] - start[name] for name in end if end[name] != start[name]}


def test_the_first_message_of_a_session_starts_a_conversation_of_its_channel():
    assert turn(SESSION_START, said("客服电话多少", "ask_hotline", "wechat"),
                did("utter_hotline", "action_listen")) == {"wechat conversations": 1}


def test_a_later_message_is_no_new_conversation():
    before = [*SESSION_START, said("你好", "greet"), *did("utter_greet", "action_listen")]
    assert turn(before, said("客服电话多少", "ask_hotline"), did("utter_hotline", "action_listen")) == {}


def test_a_conversation_stored_without_a_session_start_counts_at_its_first_message():
    assert turn([ActionExecuted("action_listen")], said("你好", "greet"),
                did("utter_greet", "action_listen")) == {"conversations": 1}


def test_a_message_the_nlu_cannot_place_is_a_fallback():
    before = [*SESSION_START, said("你好", "greet"), *did("utter_greet", "action_listen")]
    assert turn(before, said("那个东西", "nlu_fallback"), did("action_ask_which_topic", "action_listen")) == {
        "nlu_fallback": 1}
    assert turn(before, said("今天天气如何", "out_of_scope"), did("utter_out_of_scope", "action_listen")) == {
        "out_of_scope": 1}


def test_a_message_relayed_to_an_agent_is_no_fallback():
    before = [*SESSION_START, said("转人工", "request_human"), *did("utter_escalate", "action_handoff", "action_listen")]
    assert turn(before, said("那个东西", "nlu_fallback"), did("action_relay_to_agent", "action_listen")) == {}


@pytest.mark.parametrize("intent, actions, policy, reason", [
    ("request_human", ["utter_escalate", "action_handoff"], "policy_2_RecentTurnsRulePolicy", "asked_for_human"),
    ("complaint", ["action_acknowledge_frustration", "utter_escalate", "action_handoff"],
     "policy_6_FrustrationPolicy", "frustration"),
    ("deny", ["utter_default"], "policy_2_RecentTurnsRulePolicy", "none_of_the_topics"),
    ("nlu_fallback", ["utter_default"], "policy_2_RecentTurnsRulePolicy", "not_understood_twice"),
    ("refund", ["action_default_fallback"], "policy_2_RecentTurnsRulePolicy", "low_policy_confidence"),
])
def test_each_escalation_is_counted_with_its_reason_and_its_conversation_once(intent, actions, policy, reason):
    before = [*SESSION_START, said("你好", "greet"), *did("utter_greet", "action_listen")]
    changed = turn(before, said("……", intent), did(*actions, "action_listen", policy=policy))
    assert changed.pop(reason) == 1
    assert changed.pop("escalated conversations") == 1
    assert changed.pop("nlu_fallback", 0) == (1 if intent == "nlu_fallback" else 0)
    assert changed == {}


def test_a_second_escalation_in_the_same_session_is_no_new_escalated_conversation():
    before = [*SESSION_START, said("转人工", "request_human"), *did("utter_escalate", "action_handoff", "action_listen"),
              said("回到机器人", "resume_bot"), *did("action_resume_bot", "action_listen")]
    assert turn(before, said("转人工", "request_human"), did("utter_escalate", "action_handoff", "action_listen")) == {
        "asked_for_human": 1}


def test_an_escalation_after_a_new_session_start_is_a_new_escalated_conversation():
    before = [*SESSION_START, said("转人工", "request_human"), *did("utter_escalate", "action_handoff", "action_listen"),
              *SESSION_START]
    assert turn(before, said("转人工", "request_human"), did("utter_escalate", "action_handoff", "action_listen")) == {
        "asked_for_human": 1, "escalated conversations": 1, "conversations": 1}


def test_a_turn_no_user_message_started_counts_no_message():
    # A reminder or an external trigger: the loop runs right after action_listen.
    before = [*SESSION_START, said("那个东西", "nlu_fallback"), *did("action_ask_which_topic", "action_listen")]
    assert turn(before, None, did("utter_reminder", "action_listen")) == {}
