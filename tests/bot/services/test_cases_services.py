"""The cases' decisions in bot/services: fraud, complaints, logistics, handoff, rating, lookups."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from bot.services import complaints, conversation, fraud, logistics
from bot.services.handoff import callback_number, handoff_summary, looks_like_a_number, masked_number
from bot.services.order_lookup import find_order, references
from bot.services.rating import is_bare_score, is_low, parse_score
from bot.services.replies import reply
from bot.stores.orders import Order, TrackingEvent

NOW = datetime.fromisoformat("2026-11-25T10:30:00+08:00")


def order(status="in_transit", hours_ago=(5,), **changes) -> Order:
    values = dict(
        order_id="261120-000000000000001", item="测试商品", amount=Decimal("99.00"), status=status,
        carrier="中通快递", tracking_number="ZTO781234567899",
        events=tuple(TrackingEvent(NOW - timedelta(hours=h), f"事件{h}") for h in hours_ago),
        refund_state="none", refund_amount=None, placed_at=NOW - timedelta(days=3),
    )
    values.update(changes)
    return Order(**values)


class FakeOrders:
    def __init__(self, *orders):
        self._orders = {o.order_id: o for o in orders}

    def get(self, order_id):
        return self._orders.get(order_id)

    def by_tracking_number(self, number):
        return next((o for o in self._orders.values() if (o.tracking_number or "").upper() == number.upper()), None)


# --- fraud ---------------------------------------------------------------------------

@pytest.mark.parametrize("signals, level", [
    (["验证码"], fraud.HIGH), (["屏幕共享"], fraud.HIGH), (["链接", "订单异常", "理赔"], fraud.HIGH),
    (["链接"], fraud.MEDIUM), (["私下联系"], fraud.MEDIUM), ([], fraud.LOW),
])
def test_fraud_level_from_the_signals(signals, level):
    assert fraud.assess(signals, [], "").level == level


def test_official_number_is_told_apart_however_it_is_written():
    found = fraud.assess([], ["400-8822-528", "02153395288", "17012345678"], "")
    assert found.official_numbers == ("400-8822-528", "02153395288")
    assert found.other_numbers == ("17012345678",)


def test_money_lost_is_noticed():
    assert fraud.assess([], [], "我已经转了两千块").money_lost
    assert not fraud.assess([], [], "他让我转账 我没转").money_lost


def test_repeated_signals_are_listed_once_in_order():
    assert fraud.assess(["转账", "验证码", "转账"], [], "").signals == ("转账", "验证码")


def test_vague_fraud_question_needs_details_but_a_signal_or_number_does_not():
    assert fraud.is_too_vague("被骗了吗", [], [])
    assert not fraud.is_too_vague("被骗了吗", ["验证码"], [])
    assert not fraud.is_too_vague("是不是骗子", [], ["17012345678"])


# --- complaints ----------------------------------------------------------------------

@pytest.mark.parametrize("text, vague", [
    ("我要投诉", True), ("投诉商家", True), ("我想投诉一下这个卖家", True),
    ("商家卖假货还不退款", False), ("快递员态度很差 还骂人", False),
])
def test_vague_complaint_openings(text, vague):
    assert complaints.is_too_vague(text) is vague


def test_priority_from_safety_signals_or_amount_over_the_threshold(monkeypatch):
    assert complaints.is_priority(["食品安全"], [])
    assert complaints.is_priority([], [Decimal("1999")])
    assert not complaints.is_priority([], [Decimal("1000"), None])
    monkeypatch.setenv("PRIORITY_AMOUNT_YUAN", "50")
    assert complaints.is_priority([], [Decimal("99")])


@pytest.mark.parametrize("value, yuan", [
    ("1299.5", Decimal("1299.5")), ("3万", Decimal("30000")), ("1,500", Decimal("1500")),
    ("五百", Decimal("500")), ("两千三百", Decimal("2300")), ("一万五千", Decimal("15000")), ("好多", None),
])
def test_amounts_are_read_in_yuan(value, yuan):
    assert complaints.amount_in_yuan(value) == yuan


# --- logistics -----------------------------------------------------------------------

def test_parcel_on_its_way_without_update_for_over_48_hours_is_stale():
    assert logistics.parcel_problem(order(hours_ago=(49, 60)), [], NOW) == logistics.STALE
    assert logistics.parcel_problem(order(hours_ago=(47,)), [], NOW) is None


def test_delivered_parcel_the_user_did_not_receive():
    delivered = order(status="delivered", hours_ago=(20,))
    assert logistics.parcel_problem(delivered, ["显示签收了 我没收到啊"], NOW) == logistics.NOT_RECEIVED
    assert logistics.parcel_problem(delivered, ["到了吗"], NOW) is None


def test_latest_events_are_listed_newest_first_in_shanghai_time():
    text = logistics.latest_events_text(order(hours_ago=(1, 5, 9, 30)))
    assert text == "· 11-25 09:30 事件1\n· 11-25 05:30 事件5\n· 11-25 01:30 事件9"


# --- order lookup --------------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "261120-000000000000001", "261120000000000000001", "订单号：２６１１２０－００００００００００００００１", "zto781234567899",
])
def test_the_order_is_found_by_number_or_parcel_however_typed(typed):
    lookup = find_order(FakeOrders(order()), typed)
    assert lookup.found and lookup.order.order_id == "261120-000000000000001"


def test_an_unknown_number_is_reported_back_and_no_number_is_none():
    store = FakeOrders(order())
    assert find_order(store, "SF9999999999").reference == "SF9999999999"
    assert find_order(store, "不记得了").reference is None
    assert references("我有两个 261120-000000000000001 和 SF1234567890") == ["261120-000000000000001", "SF1234567890"]


# --- handoff -------------------------------------------------------------------------

@pytest.mark.parametrize("text, number", [
    ("13812345678", "13812345678"), ("打138-1234-5678", "13812345678"), ("１３９ １２３４ ５６７８", "13912345678"),
    ("021-53395288", "02153395288"), ("4008822528", None), ("没有", None),
])
def test_callback_numbers(text, number):
    assert callback_number(text) == number


def test_a_mistyped_number_is_noticed():
    assert looks_like_a_number("1381234567")
    assert not looks_like_a_number("好的谢谢")


def test_masked_number_shows_only_the_ends():
    assert masked_number("13812345678") == "138****5678"


def test_summary_keeps_the_last_six_messages():
    summary = handoff_summary("退款/退货", None, [str(n) for n in range(10)])
    assert summary.split("\n") == ["话题：退款/退货", "订单：未提供", "最近的消息：", "- 4", "- 5", "- 6", "- 7", "- 8", "- 9"]


# --- rating --------------------------------------------------------------------------

@pytest.mark.parametrize("value, score", [
    ("5", 5), (4.0, 4), ("打3分", 3), ("五星", 5), ("一星 太差", 1), ("10分", None), ("还行", None), (None, None),
    ("⭐⭐⭐⭐", 4), ("★★", 2), ("⭐⭐⭐⭐⭐⭐", None),
])
def test_scores(value, score):
    assert parse_score(value) == score


@pytest.mark.parametrize("text, bare", [
    ("4", True), ("４", True), ("4分", True), ("五星", True), ("给5分吧", True), ("⭐⭐⭐", True),
    ("45", False), ("6", False), ("我觉得可以给4分", False), ("261122-482913004417265", False), ("", False),
])
def test_a_bare_score_is_only_a_score(text, bare):
    assert is_bare_score(text) is bare


def test_two_or_less_is_low():
    assert is_low(2) and not is_low(3)


# --- conversation events -------------------------------------------------------------

def user(text, intent, entities=()):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": list(entities)}}


def test_messages_since_the_case_started_and_their_entities():
    events = [
        user("早", "greet"), {"event": "session_started"}, user("你好", "greet"),
        user("有人要验证码", "fraud_check", [{"entity": "fraud_signal", "value": "验证码"}]),
        {"event": "bot", "text": "..."},
        user("还让转账", "nlu_fallback", [{"entity": "fraud_signal", "value": "转账"}]),
    ]
    since = conversation.messages_since_intent(events, ["fraud_check"])
    assert [event["text"] for event in since] == ["有人要验证码", "还让转账"]
    assert conversation.entity_values(since, "fraud_signal") == ["验证码", "转账"]
    assert conversation.user_texts(events) == ["你好", "有人要验证码", "还让转账"]
    assert conversation.latest_case_intent(events, ["fraud_check", "refund"]) == "fraud_check"


def test_button_payloads_are_not_read_as_what_the_user_said():
    assert conversation.user_texts([user("/deny", "deny"), user("没有订单", "deny")]) == ["没有订单"]


# --- replies -------------------------------------------------------------------------

def test_user_text_in_a_reply_is_never_read_as_a_template():
    assert reply("order_not_found", order_reference="{hotline}")["text"].startswith("没有查到订单 {hotline}，")
