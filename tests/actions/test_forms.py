"""The case forms: their questions and how they check answers."""
from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import (
    ActionAskComplaintOrder,
    ActionAskRefundOrder,
    ValidateComplaintForm,
    ValidateFraudForm,
    ValidateLogisticsForm,
    ValidateRefundForm,
)
from bot.services.replies import reply
from tests.actions.conftest import entity, sent, tracker_with, user_event

DOMAIN = {"forms": {
    "refund_form": {"required_slots": ["refund_order"]},
    "logistics_form": {"required_slots": ["parcel_ref"]},
    "complaint_form": {"required_slots": ["complaint_text", "complaint_order"]},
    "fraud_form": {"required_slots": ["fraud_story"]},
}, "slots": {}}
GAVE_UP = sent(**reply("case_gave_up"))


async def validate(action, slots, text, intent="nlu_fallback", entities=None, requested=None, form=None):
    """Run a form's validation as Rasa does: after the user's message filled the form's slot."""
    required = DOMAIN["forms"][action.form_name()]["required_slots"]
    filled = [{"event": "slot", "name": name, "value": value} for name, value in slots.items() if name in required]
    tracker = tracker_with(
        slots={**slots, "requested_slot": requested},
        events=[user_event(text, intent, entities), *filled],
        active_loop=form,
    )
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return dispatcher.messages, events


@pytest.mark.asyncio
async def test_refund_form_asks_where_to_find_the_order_number():
    dispatcher = CollectingDispatcher()
    await ActionAskRefundOrder().run(dispatcher, tracker_with(), DOMAIN)
    assert dispatcher.messages == [sent("好的，我来帮您查退款。请把订单编号发给我（在「我的订单」→ 订单详情里可以长按复制）。")]


@pytest.mark.asyncio
async def test_complaint_order_question_has_a_no_order_button():
    dispatcher = CollectingDispatcher()
    await ActionAskComplaintOrder().run(dispatcher, tracker_with(), DOMAIN)
    assert dispatcher.messages[0]["buttons"] == [{"title": "没有订单", "payload": "/deny"}]


@pytest.mark.asyncio
@pytest.mark.parametrize("typed", [
    "261117-228410735906618",
    "２６１１１７－２２８４１０７３５９０６６１８",  # full-width, as some keyboards type it
    "261117228410735906618",  # without the dash
    "订单号是 261117-228410735906618 谢谢",
])
async def test_refund_order_is_read_however_it_is_typed(service_db, typed):
    messages, events = await validate(ValidateRefundForm(), {"refund_order": typed}, typed, form="refund_form", requested="refund_order")
    assert messages == []
    assert SlotSet("refund_order", "261117-228410735906618") in events
    assert SlotSet("case_failures", 0) in events


@pytest.mark.asyncio
async def test_unreadable_order_number_explains_where_to_find_it(service_db):
    messages, events = await validate(ValidateRefundForm(), {"refund_order": "12345"}, "12345", form="refund_form", requested="refund_order")
    assert messages == [sent(**reply("order_number_unreadable"))]
    assert SlotSet("refund_order", None) in events and SlotSet("case_failures", 1) in events


@pytest.mark.asyncio
async def test_unknown_order_number_is_quoted_back(service_db):
    messages, events = await validate(ValidateRefundForm(), {"refund_order": "261101-000000000000001"}, "261101-000000000000001",
                                      form="refund_form", requested="refund_order")
    assert messages == [sent("没有查到订单 261101-000000000000001，麻烦核对一下号码再发我一次。")]
    assert SlotSet("case_failures", 1) in events


@pytest.mark.asyncio
async def test_second_wrong_order_number_ends_the_form_with_the_way_to_a_person(service_db):
    messages, events = await validate(ValidateRefundForm(), {"refund_order": "abc", "case_failures": 1}, "abc",
                                      form="refund_form", requested="refund_order")
    assert messages == [GAVE_UP]
    assert "400-8822-528" in GAVE_UP["text"] and GAVE_UP["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    assert SlotSet("requested_slot", None) in events and SlotSet("case_failures", 2) in events


@pytest.mark.asyncio
async def test_logistics_form_takes_a_tracking_number_in_any_case(service_db):
    messages, events = await validate(ValidateLogisticsForm(), {"parcel_ref": "yd4318827305516"}, "快递单号 yd4318827305516",
                                      form="logistics_form", requested="parcel_ref")
    assert messages == []
    assert SlotSet("parcel_ref", "261119-559027316840153") in events


@pytest.mark.asyncio
async def test_unknown_parcel_is_quoted_back(service_db):
    messages, _ = await validate(ValidateLogisticsForm(), {"parcel_ref": "SF9999999999"}, "SF9999999999",
                                 form="logistics_form", requested="parcel_ref")
    assert messages == [sent("没有查到 SF9999999999 对应的订单或快递，麻烦核对后再发一次（订单编号或快递单号都可以）。")]


@pytest.mark.asyncio
async def test_vague_complaint_opening_asks_what_happened(service_db):
    _, events = await validate(ValidateComplaintForm(), {"complaint_text": "我要投诉商家"}, "我要投诉商家", intent="complaint")
    assert SlotSet("complaint_text", None) in events


@pytest.mark.asyncio
async def test_complaint_with_a_story_is_taken_at_once(service_db):
    text = "商家卖假货 还不给退款"
    _, events = await validate(ValidateComplaintForm(), {"complaint_text": text}, text, intent="complaint")
    assert SlotSet("complaint_text", text) in events


@pytest.mark.asyncio
async def test_a_second_vague_answer_is_taken_rather_than_asked_again(service_db):
    _, events = await validate(ValidateComplaintForm(), {"complaint_text": "就是不好"}, "就是不好",
                               form="complaint_form", requested="complaint_text")
    assert SlotSet("complaint_text", "就是不好") in events


@pytest.mark.asyncio
@pytest.mark.parametrize("answer, stored", [
    ("none", "none"), ("没有订单", "none"), ("是这个订单 261108-816240579331846", "261108-816240579331846"),
])
async def test_complaint_order_answers(service_db, answer, stored):
    _, events = await validate(ValidateComplaintForm(), {"complaint_text": "x", "complaint_order": answer}, answer,
                               form="complaint_form", requested="complaint_order")
    assert SlotSet("complaint_order", stored) in events


@pytest.mark.asyncio
async def test_unreadable_complaint_order_asks_again_once(service_db):
    messages, events = await validate(ValidateComplaintForm(), {"complaint_text": "x", "complaint_order": "好像是上周买的"},
                                      "好像是上周买的", form="complaint_form", requested="complaint_order")
    assert messages == [sent(**reply("complaint_order_unreadable"))]
    assert SlotSet("complaint_order", None) in events


@pytest.mark.asyncio
async def test_vague_fraud_question_asks_once_what_the_caller_wanted(service_db):
    _, events = await validate(ValidateFraudForm(), {"fraud_story": "我是不是被骗了"}, "我是不是被骗了", intent="fraud_check")
    assert SlotSet("fraud_story", None) in events and SlotSet("fraud_details_asked", True) in events


@pytest.mark.asyncio
async def test_fraud_story_with_a_signal_is_judged_at_once(service_db):
    text = "对方要验证码"
    _, events = await validate(ValidateFraudForm(), {"fraud_story": text}, text, intent="fraud_check",
                               entities=[entity("fraud_signal", "验证码")])
    assert SlotSet("fraud_story", text) in events


@pytest.mark.asyncio
async def test_after_asking_once_any_answer_is_judged(service_db):
    _, events = await validate(ValidateFraudForm(), {"fraud_story": "不知道", "fraud_details_asked": True}, "不知道",
                               form="fraud_form", requested="fraud_story")
    assert SlotSet("fraud_story", "不知道") in events
