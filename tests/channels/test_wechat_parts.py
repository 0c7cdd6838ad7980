"""The WeChat channel's pieces: signature, XML, choices, texts (its memory: tests/bot/stores/test_shared_state.py)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest

from bot import knowledge
from bot.channels.wechat import (
    ASK_BOT, IGNORE, UNREADABLE, MalformedMessage, chosen_payload,
    is_signed_by_wechat, parse_wechat_xml, passive_text_reply, read_incoming, render_bot_messages,
    wechat_signature,
)

CHOICES = [{"title": "退款/退货", "payload": "/refund"}, {"title": "查物流", "payload": "/logistics"}]


def test_signature_is_sha1_of_the_sorted_token_timestamp_and_nonce():
    # Worked example: sorted("tok", "1700000000", "abc") joined is "1700000000abctok".
    import hashlib
    assert wechat_signature("tok", "1700000000", "abc") == hashlib.sha1(b"1700000000abctok").hexdigest()
    signed = {"signature": wechat_signature("tok", "1", "n"), "timestamp": "1", "nonce": "n"}
    assert is_signed_by_wechat("tok", signed)
    assert not is_signed_by_wechat("other", signed)
    assert not is_signed_by_wechat("tok", {**signed, "signature": "签名"})
    assert not is_signed_by_wechat("", {"signature": wechat_signature("", "1", "n"), "timestamp": "1", "nonce": "n"})


def test_cdata_and_escaped_text_are_read_as_plain_text():
    fields = parse_wechat_xml(
        b"<xml><ToUserName><![CDATA[gh]]></ToUserName>"
        b"<Content><![CDATA[<!DOCTYPE html> ]]]]><![CDATA[>]]> &amp;lt;b&amp;gt;</Content></xml>")
    assert fields == {"ToUserName": "gh", "Content": "<!DOCTYPE html> ]]> &lt;b&gt;"}


@pytest.mark.parametrize("body", [
    b'<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>',
    b'<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><Content>x</Content></xml>',
    b"<xml><Content>&undeclared;</Content></xml>",
    b"<xml><Content>x</xml>",
])
def test_entity_declarations_and_broken_xml_are_refused(body):
    with pytest.raises(MalformedMessage):
        parse_wechat_xml(body)


def test_a_message_without_its_addresses_is_malformed():
    with pytest.raises(MalformedMessage):
        read_incoming({"MsgType": "text", "Content": "你好"})


def test_passive_reply_swaps_addresses_and_survives_any_text():
    content = "回复 ]]> <a href='x'>链接</a> https://mobile.yangkeduo.com\x01"
    reply = ElementTree.fromstring(passive_text_reply({"FromUserName": "o-user", "ToUserName": "gh"}, content, 1700))
    assert reply.findtext("ToUserName") == "o-user" and reply.findtext("FromUserName") == "gh"
    assert reply.findtext("CreateTime") == "1700" and reply.findtext("MsgType") == "text"
    assert reply.findtext("Content") == content.replace("\x01", "")


@pytest.mark.parametrize("text, payload", [
    ("1", "/refund"), ("１", "/refund"), (" 2 ", "/logistics"), ("2.", "/logistics"), ("2。", "/logistics"),
    ("3", None), ("0", None), ("12", None), ("1个", None), ("我选1", None),
])
def test_a_number_alone_picks_a_choice(text, payload):
    assert chosen_payload(text, CHOICES) == payload


def test_a_number_without_pending_choices_is_text():
    assert chosen_payload("1", None) is None


def test_buttons_become_numbered_lines_with_one_hint_after_them():
    content, choices = render_bot_messages([
        {"text": "请问是哪方面？", "buttons": CHOICES},
        {"text": "看看帮助", "buttons": [{"title": "帮助中心", "url": "https://example.com/help"}]},
    ])
    first, second = content.split("\n\n")
    assert first.startswith("请问是哪方面？\n1. 退款/退货\n2. 查物流\n")
    assert second == "看看帮助\n帮助中心 https://example.com/help"
    assert choices == CHOICES


def test_events_and_message_types_map_to_what_the_channel_does():
    base = {"FromUserName": "o-1", "ToUserName": "gh", "CreateTime": "1700"}
    subscribe = read_incoming({**base, "MsgType": "event", "Event": "subscribe"})
    assert (subscribe.kind, subscribe.text) == (ASK_BOT, "/greet")
    assert subscribe.dedupe_key == read_incoming({**base, "MsgType": "event", "Event": "subscribe"}).dedupe_key
    assert read_incoming({**base, "MsgType": "event", "Event": "unsubscribe"}).kind == IGNORE
    assert read_incoming({**base, "MsgType": "event", "Event": "CLICK"}).kind == IGNORE
    assert read_incoming({**base, "MsgType": "shortvideo", "MsgId": "9"}).kind == UNREADABLE
    assert read_incoming({**base, "MsgType": "voice", "MsgId": "9", "Recognition": ""}).kind == UNREADABLE
    voice = read_incoming({**base, "MsgType": "voice", "MsgId": "9", "Recognition": "查物流"})
    assert (voice.kind, voice.text) == (ASK_BOT, "查物流")


def test_channel_texts_quote_facts_only_through_placeholders():
    texts = knowledge.load("channel_texts")["wechat"]
    for name, text in texts.items():
        assert not re.search(r"\d", text), f"{name} writes a number: use a placeholder from bot/knowledge/texts.py"
