"""Whole conversations with the trained bot, as a shopper has them."""
from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Dict, List

import pytest

from bot.clock import frozen_at
from tests.conftest import shanghai

def say(servers, text: str, sender: str) -> List[Dict]:
    request = urllib.request.Request(
        f"{servers.url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def texts(replies: List[Dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def new_sender() -> str:
    # Unique across test modules and runs: each test is a new shopper.
    return f"shopper-{uuid.uuid4().hex[:12]}"


def test_hotline_question_gets_both_numbers_and_hours(bot_servers):
    answer = texts(say(bot_servers, "拼多多客服电话多少", new_sender()))
    assert "400-8822-528" in answer
    assert "021-5339-5288" in answer
    assert "7:00-23:00" in answer


def test_traditional_characters_and_full_width_digits_are_understood(bot_servers):
    answer = texts(say(bot_servers, "我的訂單２６１１２２－４８２９１３００４４１７２６５ 物流到哪了", new_sender()))
    assert "订单 261122-482913004417265（南极人 纯棉四件套 1.8m床 灰色）：运输中" in answer


def test_suspicious_call_gets_the_anti_fraud_rules(bot_servers):
    answer = texts(say(bot_servers, "有人说是拼多多客服 让我把验证码发给他还要转账", new_sender()))
    assert "不会主动要您提供银行卡密码、验证码" in answer
    assert "96110" in answer and "110" in answer


def test_asking_for_a_human_in_service_hours_gives_every_way_to_reach_one(bot_servers):
    answer = texts(say(bot_servers, "转人工", new_sender()))
    for expected in ["个人中心", "人工客服", "转人工", "400-8822-528", "021-5339-5288",
                     "订单编号", "截图", "10:00-12:00", "14:00-17:00", "排队回拨"]:
        assert expected in answer
    assert "下班" not in answer


def test_unclear_message_offers_likeliest_topics_then_none_of_these_escalates(bot_servers):
    sender = new_sender()
    replies = say(bot_servers, "那个东西", sender)
    assert "不太确定" in texts(replies)
    buttons = replies[-1]["buttons"]
    assert 2 <= len(buttons) <= 4
    assert buttons[-1] == {"title": "都不是", "payload": "/deny"}

    escalation = texts(say(bot_servers, buttons[-1]["payload"], sender))
    assert "抱歉" in escalation and "400-8822-528" in escalation


def test_unclear_message_then_picking_a_topic_answers_that_topic(bot_servers):
    sender = new_sender()
    buttons = say(bot_servers, "那个东西", sender)[-1]["buttons"]
    refund = next(button for button in buttons if button["payload"] == "/refund") if any(
        button["payload"] == "/refund" for button in buttons) else {"payload": "/refund"}
    answer = texts(say(bot_servers, refund["payload"], sender))
    assert "查退款" in answer and "订单编号" in answer


def test_two_unclear_messages_in_a_row_escalate(bot_servers):
    sender = new_sender()
    say(bot_servers, "那个东西", sender)
    escalation = texts(say(bot_servers, "呃", sender))
    assert "没能理解" in escalation and "400-8822-528" in escalation


def test_small_talk_yes_is_acknowledged_not_escalated(bot_servers):
    answer = texts(say(bot_servers, "嗯嗯好的", new_sender()))
    assert "400-8822-528" not in answer
    assert answer


@pytest.mark.asyncio
async def test_asking_for_a_human_at_night_says_agents_are_off_and_offers_a_message(agent):
    with frozen_at(shanghai("2026-11-25T02:30:00+08:00")):
        replies = await agent.handle_text("我要人工客服", sender_id=new_sender())
    # The first answer comes from the Rasa server's clock; the ticket after it
    # from the test action server, which runs in the daytime.
    answer = replies[0]["text"]
    assert "下班" in answer and "留言" in answer
    assert "7:00" in answer and "400-8822-528" in answer
    assert "排队回拨" not in answer


@pytest.mark.asyncio
async def test_escalation_after_failing_twice_at_night_is_the_off_hours_wording(agent):
    sender = new_sender()
    with frozen_at(shanghai("2026-11-25T23:10:00+08:00")):
        await agent.handle_text("那个东西", sender_id=sender)
        replies = await agent.handle_text("呃", sender_id=sender)
    answer = texts(replies)
    assert "没能理解" in answer and "下班" in answer
