"""The Chatwoot agent-bot connector against a local stand-in that follows Chatwoot's documented payloads.

Tested only against that stand-in (tests/channels/fake_chatwoot.py), never a real Chatwoot.
"""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.desk.conftest import CHATWOOT_ENV, tracker


@pytest.fixture
def webhook(desk_bot) -> str:
    return f"{desk_bot.url}/webhooks/chatwoot/webhook?token={CHATWOOT_ENV['CHATWOOT_WEBHOOK_TOKEN']}"


def texts(messages):
    return [message["content"] for message in messages]


def test_the_bot_answers_hands_over_as_open_stays_silent_and_comes_back_on_pending(desk_bot, chatwoot, webhook, wang,
                                                                                   service_db):
    conversation = chatwoot.new_conversation()
    sender = f"chatwoot-1-{conversation}"

    assert chatwoot.post_event(webhook, chatwoot.event(conversation, "客服电话多少")) == 200
    first = chatwoot.wait_for_messages(conversation, 1)
    assert "400-8822-528" in first[0]["content"] and first[0]["message_type"] == "outgoing"

    # A handoff: the bot says a person is coming, then sets the conversation to open.
    chatwoot.post_event(webhook, chatwoot.event(conversation, "转人工"))
    assert chatwoot.wait_for_status(conversation, "open") == "open"
    said = texts(chatwoot.messages_in(conversation))
    assert any("接入后会直接在这里回复您" in text for text in said)
    number = next(word for text in said for word in text.replace("：", " ").replace("，", " ").split()
                  if word.startswith("T2026"))
    assert wang.waiting(number) is None  # Chatwoot's agents have it, not the desk's queue

    # While it is open the bot is silent: nothing is answered, nothing reaches the bot.
    count = len(chatwoot.messages_in(conversation))
    assert chatwoot.post_event(webhook, chatwoot.event(conversation, "在吗 我的快递呢")) == 200
    time.sleep(2)
    assert len(chatwoot.messages_in(conversation)) == count
    assert "在吗 我的快递呢" not in [event.get("text") for event in tracker(desk_bot, sender)["events"]]

    # An agent sets it back to pending: the bot is back, says so, and answers.
    chatwoot.agent_sets(conversation, "pending")
    chatwoot.post_event(webhook, chatwoot.event(conversation, "人工客服几点下班"))
    answers = texts(chatwoot.wait_for_messages(conversation, count + 2))[count:]
    assert "智能客服回来啦" in answers[0]
    assert "23:00" in answers[1]
    assert chatwoot.status(conversation) == "pending"
    with service_db.connect() as connection:
        status = connection.execute(sa.text("SELECT status FROM service_tickets WHERE number = :n"),
                                    {"n": number}).scalar_one()
    assert status == "resolved"  # the helpdesk's part is done


def test_buttons_become_options_and_a_chosen_option_is_its_payload(desk_bot, chatwoot, webhook):
    conversation = chatwoot.new_conversation()
    chatwoot.post_event(webhook, chatwoot.event(conversation, "你好"))
    greeting = chatwoot.wait_for_messages(conversation, 1)[0]
    assert greeting["content_type"] == "input_select"
    items = greeting["content_attributes"]["items"]
    refund = next(item for item in items if item["title"] == "退款/退货")

    chatwoot.post_event(webhook, chatwoot.event(conversation, greeting["content"], kind="message_updated",
                                                message_type="template", submitted=refund))
    answer = chatwoot.wait_for_messages(conversation, 2)[1]
    assert "订单编号" in answer["content"]
    user_events = [event for event in tracker(desk_bot, f"chatwoot-1-{conversation}")["events"]
                   if event["event"] == "user"]
    assert user_events[-1]["text"] == refund["value"]
    assert user_events[-1]["metadata"]["shown_as"] == "退款/退货"


@pytest.mark.parametrize("kind, message_type, private", [
    ("message_created", "outgoing", False),   # the bot's own or an agent's message
    ("message_created", "incoming", True),    # a private note
    ("conversation_opened", "incoming", False),
])
def test_events_that_are_not_a_users_message_are_ignored(desk_bot, chatwoot, webhook, kind, message_type, private):
    conversation = chatwoot.new_conversation()
    event = chatwoot.event(conversation, "客服电话多少", kind=kind, message_type=message_type, private=private)
    assert chatwoot.post_event(webhook, event) == 200
    time.sleep(1.5)
    assert chatwoot.messages_in(conversation) == []


def test_requests_without_the_secret_or_with_a_broken_body_are_refused(desk_bot, chatwoot, webhook):
    conversation = chatwoot.new_conversation()
    base = webhook.split("?")[0]
    assert chatwoot.post_event(base, chatwoot.event(conversation, "你好")) == 403
    assert chatwoot.post_event(base + "?token=wrong", chatwoot.event(conversation, "你好")) == 403
    assert chatwoot.post_event(webhook, ["not", "an", "event"]) == 400
    assert chatwoot.post_event(webhook, {"event": "message_created", "message_type": "incoming",
                                         "content": "你好"}) == 400
    time.sleep(1)
    assert chatwoot.messages_in(conversation) == []
    assert chatwoot.refused == []  # the bot never called Chatwoot without its token
