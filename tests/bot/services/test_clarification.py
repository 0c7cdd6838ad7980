"""bot/services/clarification.py: the topic buttons shown when the bot is unsure."""
from __future__ import annotations

import pytest

from bot import knowledge
from bot.services.clarification import (
    clarification_buttons,
    clarification_question,
    likeliest_topics,
)

NONE_OF_THESE = {"title": "都不是", "payload": "/deny"}


@pytest.fixture(scope="module")
def topics():
    return knowledge.load("topics")["topics"]


def ranking(*names, confidence=0.5):
    return [{"name": name, "confidence": confidence / (i + 1)} for i, name in enumerate(names)]


def test_topics_keep_the_ranking_order():
    assert likeliest_topics(ranking("complaint", "refund", "logistics")) == [
        "complaint",
        "refund",
        "logistics",
    ]


def test_non_topic_intents_are_skipped():
    result = likeliest_topics(
        ranking("greet", "nlu_fallback", "fraud_check", "out_of_scope", "ticket_status", "goodbye", "merchant_support")
    )
    assert result == ["fraud_check", "ticket_status", "merchant_support"]


def test_at_most_three_topics_are_offered():
    result = likeliest_topics(
        ranking("refund", "logistics", "complaint", "fraud_check", "request_human", "ask_hotline")
    )
    assert result == ["refund", "logistics", "complaint"]


def test_short_ranking_is_padded_with_common_topics_in_file_order(topics):
    result = likeliest_topics(ranking("ask_hotline", "greet"))

    assert len(result) == 3
    assert result[0] == "ask_hotline"
    assert result[1:] == [name for name in topics if name != "ask_hotline"][:2]


def test_padding_does_not_repeat_a_ranked_topic(topics):
    first_in_file = next(iter(topics))
    result = likeliest_topics(ranking("complaint", first_in_file))

    assert result[:2] == ["complaint", first_in_file]
    assert len(set(result)) == 3


def test_ranking_without_topics_offers_the_first_three_of_the_file(topics):
    assert likeliest_topics(ranking("greet", "nlu_fallback", "out_of_scope")) == list(topics)[:3]


@pytest.mark.parametrize(
    "malformed",
    [None, [], [{}], ["x"], [None, 3, "refund"], [{"confidence": 0.9}], [{"name": None}]],
    ids=["none", "empty", "empty-dict", "string", "junk", "no-name", "name-none"],
)
def test_empty_or_malformed_ranking_still_offers_three_topics(topics, malformed):
    assert likeliest_topics(malformed) == list(topics)[:3]
    buttons = clarification_buttons(malformed)
    assert len(buttons) == 4
    assert buttons[-1] == NONE_OF_THESE


def test_buttons_carry_the_chinese_label_and_an_intent_payload(topics):
    buttons = clarification_buttons(ranking("refund", "fraud_check", "request_human"))

    assert buttons == [
        {"title": "退款/退货", "payload": "/refund"},
        {"title": "防骗核实", "payload": "/fraud_check"},
        {"title": "转人工客服", "payload": "/request_human"},
        NONE_OF_THESE,
    ]


@pytest.mark.parametrize(
    "intents",
    [("logistics",), ("merchant_support", "greet", "ask_service_hours"), ()],
)
def test_every_topic_button_uses_the_label_from_topics_file(topics, intents):
    buttons = clarification_buttons(ranking(*intents))

    assert buttons[-1] == NONE_OF_THESE
    topic_buttons = buttons[:-1]
    assert len(topic_buttons) == 3
    for button in topic_buttons:
        intent = button["payload"].removeprefix("/")
        assert button["payload"] == f"/{intent}"
        assert button["title"] == topics[intent]


def test_none_of_these_comes_last_exactly_once():
    buttons = clarification_buttons(ranking("refund"))
    assert buttons.count(NONE_OF_THESE) == 1
    assert buttons[-1] == NONE_OF_THESE


def test_question_is_the_apologetic_chinese_prompt():
    question = clarification_question()
    assert question.startswith("抱歉")
    assert "哪" in question
