"""bot/knowledge/texts.py and the rule that every fact in a response comes from facts.yml."""
from __future__ import annotations

import re
import string
from typing import Iterator, Tuple

import pytest
import yaml

from bot import knowledge
from bot.knowledge.texts import response_placeholders
from bot.settings import ROOT

DOMAIN_FILE = ROOT / "domain.yml"
# Filled in by the actions from the order, ticket or check at hand, or by the
# clock (bot.nlg.clock_values): never facts.
ACTION_VALUES = {
    "order_id", "order_item", "order_amount", "order_status", "refund_state", "refund_amount",
    "carrier", "tracking_number", "tracking_events", "order_reference", "ticket_number",
    "ticket_kind", "ticket_priority", "ticket_status", "ticket_created", "ticket_summary",
    "ticket_number_example", "ticket_list", "stale_hours", "risk_level", "fraud_signals",
    "phone_numbers", "masked_phone", "reopen_day", "max_chars",
    # Other replies of replies.yml, put together by the action (bot/services).
    "then", "health_advice",
    # The agent desk's: who joined (bot/services/desk.py).
    "agent_name",
}


@pytest.fixture(scope="module")
def placeholders():
    return response_placeholders()


@pytest.fixture(scope="module")
def domain():
    with DOMAIN_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def replies():
    return knowledge.load("replies")


def response_texts(domain, replies=None) -> Iterator[Tuple[str, str]]:
    """(name, text) for every variation of every response and reply, buttons included."""
    for name, variations in domain["responses"].items():
        for variation in variations:
            yield from _texts(name, variation)
    for name, entry in (replies or {}).items():
        yield from _texts(name, entry if isinstance(entry, dict) else {"text": entry})


def _texts(name, variation) -> Iterator[Tuple[str, str]]:
    if variation.get("text"):
        yield name, variation["text"]
    for button in variation.get("buttons", []):
        yield name, button["title"]


def placeholder_names(text: str):
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


# --- the facts themselves --------------------------------------------------

def test_shopper_hotline(placeholders):
    assert placeholders["hotline"] == "400-8822-528"


def test_merchant_hotline(placeholders):
    assert placeholders["merchant_hotline"] == "021-5339-5288"


def test_service_hours_read_as_seven_to_eleven(placeholders):
    assert placeholders["service_hours"] == "7:00-23:00"
    assert placeholders["open_time"] == "7:00"


def test_peak_hours_list_both_weekday_peaks(placeholders):
    assert "10:00-12:00" in placeholders["peak_hours"]
    assert "14:00-17:00" in placeholders["peak_hours"]


def test_refund_and_dispute_times(placeholders):
    assert placeholders["refund_time"] == "1-3个工作日"
    assert placeholders["dispute_time"] == "3-7个工作日"


def test_emergency_numbers(placeholders):
    assert placeholders["police"] == "110"
    assert placeholders["anti_fraud_hotline"] == "96110"


def test_every_placeholder_value_is_non_empty_text(placeholders):
    for key, value in placeholders.items():
        assert isinstance(value, str) and value.strip(), key


# --- facts live in one place ----------------------------------------------

def test_domain_has_responses(domain):
    assert len(list(response_texts(domain))) > 10


def test_every_placeholder_in_a_response_is_a_fact_a_slot_or_an_action_value(domain, replies, placeholders):
    known = set(placeholders) | set(domain.get("slots", {})) | ACTION_VALUES
    unknown = {
        (name, field)
        for name, text in response_texts(domain, replies)
        for field in placeholder_names(text)
        if field not in known
    }
    assert unknown == set()


LITERAL_FACTS = {
    "phone number": re.compile(r"\d{3,4}-\d{4}-\d{3,4}|\b1[3-9]\d{9}\b|\d{3}-\d{3}-\d{4}"),
    "clock time": re.compile(r"\d{1,2}:\d{2}"),
    "working days": re.compile(r"\d\s*个工作日"),
    "hours": re.compile(r"\d+\s*(?:点|小时)"),
    "minutes": re.compile(r"\d+\s*分钟"),
    "number range": re.compile(r"\d+\s*[-~～至到]\s*\d+"),
    "percentage": re.compile(r"\d+\s*%"),
    "long number": re.compile(r"\d{3,}"),
}


@pytest.mark.parametrize("kind", sorted(LITERAL_FACTS))
def test_no_response_writes_a_fact_directly(domain, replies, kind):
    pattern = LITERAL_FACTS[kind]
    # Check the text outside placeholders: "{hotline}" is fine, "400-8822-528" is not.
    offenders = [
        (name, found.group())
        for name, text in response_texts(domain, replies)
        for found in pattern.finditer(re.sub(r"\{[^{}]*\}", "", text))
    ]
    assert offenders == []


def test_facts_reach_the_responses_through_placeholders(domain, replies):
    used = {field for _, text in response_texts(domain, replies) for field in placeholder_names(text)}
    for fact in ("hotline", "merchant_hotline", "service_hours", "peak_hours", "refund_time", "dispute_time"):
        assert fact in used


ASKS_FOR_A_SECRET = re.compile(
    r"(?:请|麻烦|需要|把)[^。！？\n]{0,8}(?:提供|告诉|发送|发给|输入|报)[^。！？\n]{0,6}(?:验证码|密码|CVV|安全码)"
    r"|(?:请|麻烦)[^。！？\n]{0,4}把[^。！？\n]{0,6}(?:验证码|密码|CVV|安全码)[^。！？\n]{0,4}(?:告诉|发|提供|报)"
)


@pytest.mark.parametrize("request_text", ["请提供您收到的验证码", "麻烦把银行卡密码告诉我", "需要您输入支付密码"])
def test_the_secret_request_check_recognises_a_request(request_text):
    assert ASKS_FOR_A_SECRET.search(request_text)


def test_the_bot_never_asks_for_a_code_or_password(domain, replies):
    offenders = [(name, text) for name, text in response_texts(domain, replies) if ASKS_FOR_A_SECRET.search(text)]
    assert offenders == []
