"""Property-based tests: arbitrary input never breaks the normaliser, the entity matcher or the channel parsers."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.rest import BadRequest, parse_rest_message
from bot.channels.wechat import MalformedMessage, parse_wechat_xml, passive_text_reply, read_incoming
from bot.entities import default_matcher
from bot.text import normalize

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Chinese text with digits, full-width forms, emoji, controls, bidi and surrogate-free oddities.
messy_text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from("订单退款快递验证码转账１２３ＳＦ\u200b\u202e\u3000\x00\n😀"),
    ),
    max_size=300,
)


@FUZZ
@given(messy_text)
def test_normalise_never_fails_and_is_stable(text):
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert not any(char in once for char in "\x00\u200b\u202e\u3000")


@FUZZ
@given(messy_text)
def test_entity_matcher_never_fails_and_spans_point_into_the_text(text):
    clean = normalize(text)
    for match in default_matcher().extract(clean):
        assert 0 <= match.start < match.end <= len(clean)
        assert clean[match.start:match.end] == match.text


@FUZZ
@given(st.binary(max_size=2000))
def test_rest_parser_takes_a_message_or_says_why_not(body):
    try:
        message = parse_rest_message(body)
    except BadRequest as problem:
        assert str(problem)
    else:
        assert message.sender and isinstance(message.text, str)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(["sender", "message", "metadata", "other"]), json_values))
def test_rest_parser_on_any_json_object(payload):
    try:
        message = parse_rest_message(json.dumps(payload).encode())
    except BadRequest:
        return
    assert message.text == payload["message"]


@FUZZ
@given(st.binary(max_size=3000))
def test_wechat_parser_on_any_bytes(body):
    try:
        fields = parse_wechat_xml(body)
    except MalformedMessage:
        return
    assert isinstance(fields, dict)


wechat_fields = st.dictionaries(
    st.sampled_from(["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "Recognition"]),
    messy_text,
)


@FUZZ
@given(wechat_fields)
def test_wechat_message_fields_round_trip_through_xml(fields):
    xml = "<xml>" + "".join(
        f"<{name}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{name}>" for name, value in fields.items()
    ) + "</xml>"
    try:
        parsed = parse_wechat_xml(xml.encode("utf-8"))
    except MalformedMessage:
        # XML 1.0 cannot carry some control characters at all.
        assert any(ord(ch) < 32 and ch not in "\t\n\r" for value in fields.values() for ch in value)
        return
    try:
        read_incoming(parsed)
    except MalformedMessage:
        return  # a message without a sender or type is refused, never half-read
    reply = passive_text_reply(parsed, parsed.get("Content", ""))
    assert parse_wechat_xml(reply.encode("utf-8"))["MsgType"] == "text"
