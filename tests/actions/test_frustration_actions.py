"""The first line to an angry shopper, and the priority promise of a complaint."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import ActionAskComplaintOrder
from actions.frustration import ActionAcknowledgeFrustration
from tests.actions.conftest import entity, sent, tracker_with, user_event
from tests.actions.test_forms import DOMAIN

ORDER_QUESTION = "这件事和哪笔订单有关？请发订单编号；没有相关订单的话点「没有订单」。"
NO_ORDER_BUTTON = [{"title": "没有订单", "payload": "/deny"}]


def angry(text, intent, kind="insult", *others):
    return user_event(text, intent, [entity("frustration", kind), *others])


async def acknowledged(events, active_loop=None):
    dispatcher = CollectingDispatcher()
    result = await ActionAcknowledgeFrustration().run(dispatcher, tracker_with(events=events, active_loop=active_loop), {})
    assert result == []
    return dispatcher.messages


@pytest.mark.asyncio
async def test_venting_with_no_subject_hears_sorry_and_that_a_person_comes():
    assert await acknowledged([angry("垃圾客服", "complaint")]) == [
        sent("真的很抱歉让您这么生气，您的不满我都收到了。我马上为您转人工客服，让专人来处理。")]


@pytest.mark.asyncio
async def test_waiting_about_a_parcel_hears_sorry_and_priority():
    assert await acknowledged([angry("等了八天了还不发货", "logistics", "impatience")]) == [
        sent("让您久等了，真的很抱歉！我这就优先帮您处理。")]


@pytest.mark.asyncio
async def test_the_second_angry_message_hears_that_a_person_comes():
    events = [angry("等了八天了还不发货", "logistics", "impatience"), angry("到底管不管", "logistics", "impatience")]
    assert await acknowledged(events, active_loop="logistics_form") == [
        sent("让您久等了，真的很抱歉！我马上为您转人工客服，让专人来处理。")]


@pytest.mark.asyncio
async def test_a_threat_hears_that_it_is_taken_seriously():
    [message] = await acknowledged([angry("再不处理我就去12315了", "complaint", "threat")])
    assert message["text"].startswith("您的诉求我们非常重视")


async def order_question(events):
    dispatcher = CollectingDispatcher()
    await ActionAskComplaintOrder().run(dispatcher, tracker_with(events=events, active_loop="complaint_form"), DOMAIN)
    return dispatcher.messages


@pytest.mark.asyncio
async def test_a_health_complaint_hears_priority_and_see_a_doctor_before_the_order_question():
    events = [user_event("孩子吃了零食上吐下泻 我要投诉", "complaint", [entity("safety_signal", "健康伤害")])]
    assert await order_question(events) == [
        sent("这件事我们会优先处理，24小时内会有专人跟进联系您。如果身体还不舒服，请先去医院就诊，保留好病历和票据。"),
        sent(ORDER_QUESTION, NO_ORDER_BUTTON),
    ]


@pytest.mark.asyncio
async def test_a_large_sum_hears_priority_without_medical_advice():
    events = [user_event("商家收了我3000元不发货", "complaint", [entity("amount", "3000")])]
    assert await order_question(events) == [
        sent("这件事我们会优先处理，24小时内会有专人跟进联系您。"),
        sent(ORDER_QUESTION, NO_ORDER_BUTTON),
    ]


@pytest.mark.asyncio
async def test_an_ordinary_complaint_and_a_repeated_question_get_only_the_question():
    assert await order_question([user_event("商家发错颜色了", "complaint")]) == [sent(ORDER_QUESTION, NO_ORDER_BUTTON)]
    events = [user_event("吃了拉肚子", "complaint", [entity("safety_signal", "健康伤害")]), user_event("不知道", "nlu_fallback")]
    assert await order_question(events) == [sent(ORDER_QUESTION, NO_ORDER_BUTTON)]
