"""The Chatwoot connector's pieces: which webhook events are a user's message, and the bot's messages for the API."""
from __future__ import annotations

import json

import pytest

from bot.channels.chatwoot import ChatwootInput, MalformedEvent, read_event
from bot.channels.chatwoot_api import message_body
from tests.channels.fake_chatwoot import FakeChatwoot


@pytest.fixture(scope="module")
def chatwoot():
    return FakeChatwoot()  # only its documented event shapes; not started


def body(event) -> bytes:
    return json.dumps(event).encode("utf-8")


def test_an_incoming_message_is_the_users_text_in_its_conversation(chatwoot):
    conversation = chatwoot.new_conversation()
    incoming = read_event(body(chatwoot.event(conversation, "我要退款")))
    assert (incoming.account, incoming.conversation, incoming.status, incoming.text) == (
        "1", str(conversation), "pending", "我要退款")
    assert incoming.sender_id == f"chatwoot-1-{conversation}"


def test_a_chosen_option_is_its_value_shown_as_its_title(chatwoot):
    conversation = chatwoot.new_conversation()
    event = chatwoot.event(conversation, "请选择", kind="message_updated", message_type="template",
                           submitted={"title": "5分", "value": '/rate{"rating": "5"}'})
    incoming = read_event(body(event))
    assert (incoming.text, incoming.shown_as) == ('/rate{"rating": "5"}', "5分")


@pytest.mark.parametrize("changes", [
    {"message_type": "outgoing"}, {"message_type": "activity"}, {"private": True}, {"event": "conversation_opened"},
    {"event": "webwidget_triggered"}, {"event": "message_updated"},
])
def test_events_that_are_no_users_message_are_none(chatwoot, changes):
    event = {**chatwoot.event(chatwoot.new_conversation(), "你好"), **changes}
    assert read_event(body(event)) is None


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe",
                                 body({"event": "message_created", "message_type": "incoming", "content": "x"}),
                                 body({"event": "message_created", "message_type": "incoming", "content": "x",
                                       "conversation": {"status": "pending"}, "account": {"id": 1}})])
def test_a_body_that_is_not_a_chatwoot_event_is_refused(raw):
    with pytest.raises(MalformedEvent):
        read_event(raw)


def test_the_bots_buttons_become_an_options_message():
    buttons = [{"title": "退款/退货", "payload": "/refund"}, {"title": "链接", "url": "https://example.com"}]
    assert message_body("请选择：", buttons) == {
        "content": "请选择：", "message_type": "outgoing", "private": False,
        "content_type": "input_select", "content_attributes": {"items": [{"title": "退款/退货", "value": "/refund"}]},
    }
    assert message_body("您好") == {"content": "您好", "message_type": "outgoing", "private": False}


def test_the_connector_reads_its_settings_from_the_variables_credentials_name(monkeypatch):
    monkeypatch.setenv("CW_URL", "https://chatwoot.example.com/")
    monkeypatch.setenv("CW_TOKEN", "bot-token")
    credentials = {"url_env": "CW_URL", "bot_token_env": "CW_TOKEN", "webhook_token_env": "CW_SECRET"}
    assert ChatwootInput.from_credentials(credentials).configured is False
    monkeypatch.setenv("CW_SECRET", "secret")
    connector = ChatwootInput.from_credentials(credentials)
    assert connector.configured and connector.api.base_url == "https://chatwoot.example.com"
