"""The case actions on tracker fixtures: exact messages, events and stored tickets."""
from __future__ import annotations

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cases import (
    ActionFraudCheck,
    ActionLogisticsStatus,
    ActionOpenComplaint,
    ActionRefundStatus,
    ActionStoreRating,
    ActionTicketStatus,
)
from actions.handoff import ActionHandoff, ActionRelayToAgent, ActionResumeBot
from bot import clock
from bot.services.replies import reply
from tests.actions.conftest import NIGHT, entity, sent, tracker_with, user_event

FIRST_TICKET = "T20261125-0001"
RATING_QUESTION = sent(**reply("ask_rating"))
CASE_RESET = [
    SlotSet("refund_order", None), SlotSet("parcel_ref", None), SlotSet("complaint_text", None),
    SlotSet("complaint_order", None), SlotSet("fraud_story", None),
    SlotSet("fraud_details_asked", False), SlotSet("case_failures", 0),
]


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher.messages, events


def closing(case, ticket=None):
    return CASE_RESET + [SlotSet("last_case", case), SlotSet("last_ticket", ticket)]


# --- refund ------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_refund_in_progress_is_reported_with_the_articles_time(service_db):
    tracker = tracker_with(slots={"refund_order": "261117-228410735906618"})
    messages, events = await run(ActionRefundStatus(), tracker)

    assert messages == [
        sent("订单 261117-228410735906618（李宁 赤兔6 跑步鞋 男款 43码）的退款申请已提交，正在处理中。"
             "一般 1-3个工作日 内处理完，退款原路返回，进度在订单详情里随时能看。"),
        RATING_QUESTION,
    ]
    assert events == closing("refund")
    assert service_db.for_sender("shopper-1") == []


@pytest.mark.asyncio
async def test_refund_not_applied_for_explains_both_kinds_and_where_to_apply(service_db):
    tracker = tracker_with(slots={"refund_order": "261115-300118842265901"})
    messages, _ = await run(ActionRefundStatus(), tracker)

    text = messages[0]["text"]
    assert text.startswith("订单 261115-300118842265901（维达抽纸 3层120抽×24包 整箱装，¥49.90，已签收）目前还没有退款申请。")
    assert "「仅退款」" in text and "「退货退款」" in text and "「我的订单」" in text
    assert "1-3个工作日" in text


@pytest.mark.asyncio
async def test_rejected_refund_opens_one_dispute_ticket_with_3_to_7_days(service_db):
    tracker = tracker_with(slots={"refund_order": "261112-405829173664021"})
    messages, events = await run(ActionRefundStatus(), tracker)

    assert messages[0] == sent(
        "订单 261112-405829173664021（欧莱雅 复颜玻尿酸水光充盈面霜 50ml）的退款申请被商家拒绝了。"
        f"我已为您申请平台介入，纠纷工单号：{FIRST_TICKET}。\n交易纠纷一般 3-7个工作日 内处理，"
        "请准备好订单编号、问题描述和相关截图，客服可能会联系您补充凭证。"
    )
    assert events == closing("refund", FIRST_TICKET)
    ticket = service_db.get(FIRST_TICKET)
    assert (ticket.kind, ticket.order_id, ticket.sender_id) == ("dispute", "261112-405829173664021", "shopper-1")

    # Asking again about the same order reports the same dispute, not a new one.
    again, _ = await run(ActionRefundStatus(), tracker)
    assert FIRST_TICKET in again[0]["text"]
    assert len(service_db.for_sender("shopper-1")) == 1


@pytest.mark.asyncio
async def test_refund_after_the_form_gave_up_says_nothing_more(service_db):
    messages, events = await run(ActionRefundStatus(), tracker_with(slots={"refund_order": None, "case_failures": 2}))
    assert messages == []
    assert events == closing("refund")


# --- logistics -----------------------------------------------------------------------

@pytest.mark.asyncio
async def test_fresh_parcel_shows_status_carrier_and_latest_events_without_a_ticket(service_db):
    tracker = tracker_with(slots={"parcel_ref": "261122-482913004417265"},
                           events=[user_event("帮我查下快递", "logistics")])
    messages, events = await run(ActionLogisticsStatus(), tracker)

    lines = messages[0]["text"].split("\n")
    assert lines[0] == "订单 261122-482913004417265（南极人 纯棉四件套 1.8m床 灰色）：运输中"
    assert lines[1].startswith("快递：") and lines[1].endswith("YT7512348806123")
    assert lines[2] == "最新物流："
    assert 1 <= len(lines[3:]) <= 3 and all(line.startswith("· 11-") for line in lines[3:])
    assert messages[1:] == [RATING_QUESTION]
    assert events == closing("logistics")
    assert service_db.for_sender("shopper-1") == []


@pytest.mark.asyncio
async def test_parcel_without_update_for_over_48_hours_opens_a_ticket(service_db):
    tracker = tracker_with(slots={"parcel_ref": "YD4318827305516"},
                           events=[user_event("快递好几天没动了 YD4318827305516", "logistics")])
    messages, events = await run(ActionLogisticsStatus(), tracker)

    assert messages[1] == sent(
        f"这个包裹已经超过 48 小时没有更新了，我已帮您催件，工单号：{FIRST_TICKET}。"
        "客服会联系快递核实，一般 3-7个工作日 内给您答复，进展会在工单里更新。"
    )
    assert events == closing("logistics", FIRST_TICKET)
    ticket = service_db.get(FIRST_TICKET)
    assert ticket.kind == "logistics" and ticket.order_id == "261119-559027316840153"


@pytest.mark.asyncio
async def test_signed_but_not_received_opens_a_ticket(service_db):
    tracker = tracker_with(slots={"parcel_ref": "261121-663018250947712"},
                           events=[user_event("显示签收了但是我没收到", "logistics")])
    messages, _ = await run(ActionLogisticsStatus(), tracker)

    assert messages[1]["text"].startswith(f"显示已签收但您没收到，我已为您登记，工单号：{FIRST_TICKET}。")
    assert service_db.get(FIRST_TICKET).details == {"problem": "not_received"}


@pytest.mark.asyncio
async def test_signed_parcel_the_user_has_is_just_reported(service_db):
    tracker = tracker_with(slots={"parcel_ref": "261121-663018250947712"},
                           events=[user_event("查下物流", "logistics")])
    messages, _ = await run(ActionLogisticsStatus(), tracker)
    assert len(messages) == 2 and "已签收" in messages[0]["text"]
    assert service_db.for_sender("shopper-1") == []


@pytest.mark.asyncio
async def test_order_not_shipped_yet_says_so(service_db):
    tracker = tracker_with(slots={"parcel_ref": "261124-710356284019935"}, events=[user_event("发货了吗", "logistics")])
    messages, _ = await run(ActionLogisticsStatus(), tracker)
    assert messages[0]["text"].startswith("订单 261124-710356284019935（飞鹤 星飞帆 婴幼儿配方奶粉 3段 700g×2罐）还在等商家发货")


# --- complaint ---------------------------------------------------------------------

@pytest.mark.asyncio
async def test_food_safety_complaint_is_priority_with_24_hour_follow_up(service_db):
    text = "买的坚果变质了 孩子吃了拉肚子"
    tracker = tracker_with(
        slots={"complaint_text": text, "complaint_order": "261119-559027316840153"},
        events=[user_event(text, "complaint", [entity("safety_signal", "食品安全"), entity("safety_signal", "健康伤害")])],
    )
    messages, events = await run(ActionOpenComplaint(), tracker)

    assert messages == [
        sent(f"已为您提交投诉，工单号：{FIRST_TICKET}。\n涉及食品安全、健康或金额较大的问题，已标记为优先处理，"
             "24小时内会有专人跟进联系您。请保留好订单编号、问题描述和相关截图。"),
        RATING_QUESTION,
    ]
    assert events == closing("complaint", FIRST_TICKET)
    ticket = service_db.get(FIRST_TICKET)
    assert (ticket.kind, ticket.priority, ticket.summary, ticket.order_id) == (
        "complaint", True, text, "261119-559027316840153")


@pytest.mark.asyncio
async def test_ordinary_complaint_gets_the_normal_times(service_db):
    text = "商家发错了颜色 联系了也不回"
    tracker = tracker_with(slots={"complaint_text": text, "complaint_order": "none"},
                           events=[user_event(text, "complaint")])
    messages, _ = await run(ActionOpenComplaint(), tracker)

    assert messages[0] == sent(
        f"已为您提交投诉，工单号：{FIRST_TICKET}。\n一般问题 1-3个工作日 内处理，复杂纠纷需要 3-7个工作日。"
        "凭工单号随时可以问我进度，请保留好订单编号、问题描述和相关截图。"
    )
    ticket = service_db.get(FIRST_TICKET)
    assert ticket.priority is False and ticket.order_id is None


@pytest.mark.asyncio
async def test_complaint_about_an_expensive_order_is_priority(service_db):
    tracker = tracker_with(slots={"complaint_text": "平板屏幕有坏点 商家不认", "complaint_order": "261108-816240579331846"},
                           events=[user_event("平板屏幕有坏点 商家不认", "complaint")])
    await run(ActionOpenComplaint(), tracker)
    assert service_db.get(FIRST_TICKET).priority is True


@pytest.mark.asyncio
async def test_priority_threshold_is_configurable(service_db, monkeypatch):
    monkeypatch.setenv("PRIORITY_AMOUNT_YUAN", "100")
    tracker = tracker_with(slots={"complaint_text": "鞋子开胶了 商家不管", "complaint_order": "261117-228410735906618"},
                           events=[user_event("鞋子开胶了 商家不管", "complaint")])
    await run(ActionOpenComplaint(), tracker)
    assert service_db.get(FIRST_TICKET).priority is True


# --- fraud check -------------------------------------------------------------------

@pytest.mark.asyncio
async def test_code_and_transfer_request_from_a_spoofed_official_number_is_high_risk(service_db):
    text = "400-8822-528打来的 说我订单异常 要验证码然后转账到安全账户"
    tracker = tracker_with(events=[user_event(text, "fraud_check", [
        entity("phone_number", "4008822528"), entity("fraud_signal", "订单异常"),
        entity("fraud_signal", "验证码"), entity("fraud_signal", "转账"), entity("fraud_signal", "安全账户"),
    ])])
    messages, events = await run(ActionFraudCheck(), tracker)

    assert [message["text"].split("。")[0] for message in messages[:2]] == [
        "风险判断：高风险",
        "对方用的号码 4008822528 看起来是官方号码，但来电显示可以伪造，不能证明对方就是官方客服",
    ]
    assert "我注意到：订单异常、验证码、转账、安全账户。" in messages[0]["text"]
    assert "不会主动要您提供银行卡密码、验证码，也不会让您转账" in messages[0]["text"]
    assert messages[2]["text"].startswith("现在请您：\n1. 挂断电话")
    assert "110" in messages[2]["text"] and "96110" in messages[2]["text"]
    assert messages[3] == RATING_QUESTION
    assert events == closing("fraud_check")


@pytest.mark.asyncio
async def test_money_already_lost_puts_the_police_first(service_db):
    text = "我已经转了5000块给他 他说是拼多多客服 让我开屏幕共享"
    tracker = tracker_with(events=[user_event(text, "fraud_check", [
        entity("amount", "5000"), entity("fraud_signal", "屏幕共享"),
    ])])
    messages, _ = await run(ActionFraudCheck(), tracker)
    assert messages[0] == sent("如果已经转账或被扣款，请马上报警（110）或拨打反诈专线 96110，并保留好聊天记录和转账凭证。")


@pytest.mark.asyncio
async def test_unknown_number_is_said_not_to_be_official(service_db):
    tracker = tracker_with(events=[
        user_event("有人打电话说是客服", "fraud_check"),
        user_event("号码是17012345678 让我点个链接", "nlu_fallback",
                   [entity("phone_number", "17012345678"), entity("fraud_signal", "链接")]),
    ])
    messages, _ = await run(ActionFraudCheck(), tracker)
    assert messages[0]["text"].startswith("风险判断：中风险。我注意到：链接。")
    assert messages[1]["text"].startswith("号码 17012345678 不是拼多多官方客服号码")


@pytest.mark.asyncio
async def test_no_signal_is_low_risk_with_the_rules_and_no_alarm(service_db):
    tracker = tracker_with(events=[user_event("快递员打电话说放驿站了 这是真的吗 会不会是骗子", "fraud_check")])
    messages, _ = await run(ActionFraudCheck(), tracker)
    assert [message["text"][:14] for message in messages[:1]] == ["风险判断：暂未发现明显风险。"]
    assert messages[1:] == [RATING_QUESTION]


# --- ticket status -------------------------------------------------------------------

@pytest.mark.asyncio
async def test_ticket_found_by_a_sloppily_written_number(service_db):
    ticket = service_db.create("complaint", "shopper-1", "商家发错货", priority=True)
    tracker = tracker_with(events=[user_event("我的工单 t20261125 0001 怎么样了", "ticket_status")])
    messages, events = await run(ActionTicketStatus(), tracker)

    assert messages == [sent(
        f"工单 {ticket.number}（投诉，优先处理）：待处理\n建立时间：2026-11-25 10:30\n内容：商家发错货"
    )]
    assert events == []


@pytest.mark.asyncio
async def test_unknown_ticket_number_is_said_so(service_db):
    tracker = tracker_with(events=[user_event("工单T20261101-0042进度", "ticket_status")])
    messages, _ = await run(ActionTicketStatus(), tracker)
    assert messages[0]["text"].startswith("没有查到工单 T20261101-0042，请核对一下编号（形如 T20261125-0001）。")


@pytest.mark.asyncio
async def test_my_tickets_lists_only_this_senders_tickets(service_db):
    service_db.create("complaint", "shopper-1", "A")
    service_db.create("handoff", "someone-else", "B")
    service_db.create("logistics", "shopper-1", "C")
    messages, _ = await run(ActionTicketStatus(), tracker_with(events=[user_event("我的工单", "ticket_status")]))
    assert messages[0]["text"] == (
        "您在这里的工单：\n· T20261125-0003 物流问题：待处理\n· T20261125-0001 投诉：待处理\n发工单号给我可以看详情。"
    )


@pytest.mark.asyncio
async def test_no_tickets_points_to_the_app_and_hotline(service_db):
    messages, _ = await run(ActionTicketStatus(), tracker_with(events=[user_event("我的工单", "ticket_status")]))
    assert messages[0]["text"].startswith("您在我这里还没有建过工单。")
    assert "400-8822-528" in messages[0]["text"]


# --- rating --------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_rating_is_stored_with_the_case_and_ticket(service_db):
    ticket = service_db.create("complaint", "shopper-1", "A")
    tracker = tracker_with(slots={"rating": "5", "last_case": "complaint", "last_ticket": ticket.number},
                           events=[user_event('/rate{"rating": "5"}', "rate", [entity("rating", "5")])])
    messages, events = await run(ActionStoreRating(), tracker)

    assert messages == [sent("谢谢您的评价！还有其他问题随时告诉我。")]
    assert events == [SlotSet("rating", 5), SlotSet("last_case", None), SlotSet("last_ticket", None)]
    [rating] = service_db.ratings_for("shopper-1")
    assert (rating.score, rating.case, rating.ticket_number) == (5, "complaint", ticket.number)


@pytest.mark.asyncio
async def test_low_rating_offers_a_human(service_db):
    tracker = tracker_with(slots={"last_case": "refund"}, events=[user_event("一星 没用", "rate")])
    messages, _ = await run(ActionStoreRating(), tracker)
    assert messages == [sent("抱歉这次没能帮上忙。需要的话说「转人工」，我马上帮您转接人工客服。")]
    assert service_db.ratings_for("shopper-1")[0].score == 1


@pytest.mark.asyncio
async def test_rating_without_a_score_asks_with_buttons_and_stores_nothing(service_db):
    messages, events = await run(ActionStoreRating(), tracker_with(events=[user_event("还行吧", "rate")]))
    assert messages == [sent(**reply("rating_unreadable"))]
    assert len(messages[0]["buttons"]) == 5
    assert events == [SlotSet("rating", None)]
    assert service_db.ratings_for("shopper-1") == []


# --- human handoff ---------------------------------------------------------------------

HANDOFF_EVENTS = [
    user_event("我要退款 订单261112-405829173664021", "refund", [entity("order_id", "261112-405829173664021")]),
    user_event("商家一直拒绝", "nlu_fallback"),
    user_event("转人工", "request_human"),
]


@pytest.mark.asyncio
async def test_handoff_in_hours_opens_a_ticket_with_a_summary_and_pauses_the_bot(service_db):
    tracker = tracker_with(slots={"refund_order": "261112-405829173664021", "requested_slot": "refund_order"},
                           events=HANDOFF_EVENTS, active_loop="refund_form")
    messages, events = await run(ActionHandoff(), tracker)

    assert messages == [sent(
        f"已为您建好转人工工单：{FIRST_TICKET}，刚才的情况我已整理给客服，不用再重复描述。\n"
        "需要客服回电的话，直接把手机号发给我；想回到智能客服，说「回到机器人」就行。"
    )]
    assert events == CASE_RESET + [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("handoff_ticket", FIRST_TICKET)]
    ticket = service_db.get(FIRST_TICKET)
    assert ticket.kind == "handoff" and ticket.order_id == "261112-405829173664021"
    assert ticket.summary == (
        "话题：退款/退货\n订单：261112-405829173664021\n最近的消息：\n"
        "- 我要退款 订单261112-405829173664021\n- 商家一直拒绝\n- 转人工"
    )


@pytest.mark.asyncio
async def test_handoff_off_hours_leaves_a_message_ticket(service_db):
    with clock.frozen_at(NIGHT):
        messages, events = await run(ActionHandoff(), tracker_with(events=[user_event("转人工", "request_human")]))

    assert messages[0]["text"].startswith(f"我为您建了留言工单：{FIRST_TICKET}，接下来您发的内容都会记在工单里，明早 7:00 后客服会处理。")
    assert service_db.get(FIRST_TICKET).kind == "message"
    assert events[-1] == SlotSet("handoff_ticket", FIRST_TICKET)


@pytest.mark.asyncio
async def test_messages_during_a_handoff_land_in_the_ticket(service_db):
    ticket = service_db.create("handoff", "shopper-1", "s")
    tracker = tracker_with(slots={"handoff_ticket": ticket.number}, events=[user_event("我再补充一下 是红色那件", "complaint")])
    messages, events = await run(ActionRelayToAgent(), tracker)

    assert messages == [sent(f"已收到，已记在工单 {ticket.number} 里，客服会看到。想回到智能客服，说「回到机器人」。")]
    assert events == []
    assert [message.text for message in service_db.messages(ticket.number)] == ["我再补充一下 是红色那件"]


@pytest.mark.asyncio
async def test_a_phone_number_during_a_handoff_becomes_a_callback_request(service_db):
    ticket = service_db.create("handoff", "shopper-1", "s")
    tracker = tracker_with(slots={"handoff_ticket": ticket.number}, events=[user_event("回电 138-1234-5678", "nlu_fallback")])
    messages, _ = await run(ActionRelayToAgent(), tracker)

    assert messages == [sent("好的，已登记回电号码 138****5678，客服会按这个号码给您回电（工单 T20261125-0002）。")]
    callback = service_db.get("T20261125-0002")
    assert (callback.kind, callback.phone, callback.details) == ("callback", "13812345678", {"handoff_ticket": ticket.number})
    assert service_db.get(ticket.number).phone == "13812345678"


@pytest.mark.asyncio
async def test_a_mistyped_phone_number_is_asked_again(service_db):
    ticket = service_db.create("handoff", "shopper-1", "s")
    tracker = tracker_with(slots={"handoff_ticket": ticket.number}, events=[user_event("1381234567", "nlu_fallback")])
    messages, _ = await run(ActionRelayToAgent(), tracker)
    assert messages == [sent("这个号码好像不对，请发手机号，或者带区号的座机号，我帮您登记回电。")]
    assert service_db.get(ticket.number).phone is None


@pytest.mark.asyncio
async def test_the_user_takes_the_bot_back(service_db):
    ticket = service_db.create("handoff", "shopper-1", "s")
    tracker = tracker_with(slots={"handoff_ticket": ticket.number}, events=[user_event("回到机器人", "resume_bot")])
    messages, events = await run(ActionResumeBot(), tracker)
    assert messages == [sent(f"好的，智能客服回来啦。工单 {ticket.number} 会继续由人工跟进。请问还有什么可以帮您？")]
    assert events == [SlotSet("handoff_ticket", None)]
