"""bot/services/desk.py and the handoff's side of it: the queue, the transcript, WeChat's budget, priority."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot import clock
from bot.services import backends, desk, handoff
from bot.services.replies import reply
from bot.stores.tickets import TicketKind

DAYTIME = datetime.fromisoformat("2026-11-25T10:30:00+08:00")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'service.db'}")
    monkeypatch.delenv("DESK_AGENTS", raising=False)
    monkeypatch.setenv("DESK_AGENTS_FILE", str(tmp_path / "agents.yml"))
    monkeypatch.delenv("DESK_QUEUE_TIMEOUT_MINUTES", raising=False)
    backends.tickets.cache_clear()
    with clock.frozen_at(DAYTIME):
        yield backends.tickets()
    backends.tickets.cache_clear()


def user(text, intent="nlu_fallback", entities=(), **extra):
    return {"event": "user", "text": text, "timestamp": 1795000000.0,
            "parse_data": {"intent": {"name": intent}, "entities": list(entities)}, **extra}


def bot(text, buttons=()):
    return {"event": "bot", "text": text, "timestamp": 1795000001.0, "data": {"buttons": list(buttons)}}


# --- the queue ---------------------------------------------------------------------------


def test_a_queue_entry_names_topic_order_channel_and_waiting_time(store):
    message, number = handoff.open_handoff(
        "s1", [user("我要退款", "refund"), user("转人工", "request_human")], "261112-405829173664021", "wechat")
    with clock.frozen_at(DAYTIME + timedelta(minutes=4)):
        [entry] = desk.queue()
    assert (entry.number, entry.topic, entry.order_id, entry.channel, entry.waited_seconds) == (
        number, "退款/退货", "261112-405829173664021", "wechat", 240)
    assert entry.summary.startswith("话题：退款/退货\n订单：261112-405829173664021")
    assert (entry.priority, entry.timed_out, entry.user_resumed) == (False, False, False)


def test_fraud_with_the_money_gone_goes_first(store):
    _, calm = handoff.open_handoff("s1", [user("转人工", "request_human")], None)
    _, fraud = handoff.open_handoff(
        "s2", [user("有人冒充客服让我转账 我已经转了2000", "fraud_check"), user("转人工", "request_human")], None)
    queue = desk.queue()
    assert [entry.number for entry in queue] == [fraud, calm]
    assert (queue[0].priority, queue[0].priority_reason) == (True, "fraud_money_lost")


def test_a_priority_complaint_goes_first(store):
    from bot.services import tickets

    tickets.open_ticket(TicketKind.COMPLAINT, "s1", "吃了拉肚子", priority=True)
    _, number = handoff.open_handoff("s1", [user("转人工", "request_human")], None)
    safety = [user("奶粉里有虫子 孩子喝了吐了", "complaint", [{"entity": "safety_signal", "value": "食品安全"}]),
              user("转人工", "request_human")]
    _, said_now = handoff.open_handoff("s2", safety, None)
    assert {entry.number: entry.priority_reason for entry in desk.queue()} == {
        number: "priority_complaint", said_now: "priority_complaint"}


def test_with_the_desk_running_the_handoff_says_a_person_answers_here(store, monkeypatch):
    assert handoff.open_handoff("s1", [user("转人工", "request_human")], None)[0]["text"].startswith("已为您建好转人工工单")
    monkeypatch.setenv("DESK_AGENTS", "agents: []")
    message, number = handoff.open_handoff("s2", [user("转人工", "request_human")], None)
    assert message == reply("handoff_open_desk", ticket_number=number)
    assert "接入后会直接在这里回复您" in message["text"]


# --- relaying while a person holds the conversation ----------------------------------------


def test_while_an_agent_holds_the_conversation_the_bot_stays_quiet(store):
    _, number = handoff.open_handoff("s1", [user("转人工", "request_human")], None)
    assert handoff.relay_to_agent("s1", number, "在吗")["text"].startswith("已收到")
    desk.claim(number, "wang")

    assert handoff.relay_to_agent("s1", number, "我的快递还没到") is None
    assert [m.text for m in desk.messages_after([number])] == ["在吗", "我的快递还没到"]


def test_going_back_to_the_bot_ends_the_agents_session_or_flags_the_waiting_ticket(store):
    _, held = handoff.open_handoff("s1", [user("转人工", "request_human")], None)
    desk.claim(held, "wang")
    assert handoff.resume_bot(held, "回到机器人") == reply("resumed_after_agent")
    assert desk.holder(held) is None and desk.ticket(held).status == "resolved"

    _, waiting = handoff.open_handoff("s2", [user("转人工", "request_human")], None)
    assert handoff.resume_bot(waiting, "回到机器人") == reply("resumed", ticket_number=waiting)
    entry = desk.entry_of(waiting)
    assert (entry.user_resumed, desk.ticket(waiting).status) == (True, "open")
    assert desk.overdue(DAYTIME + timedelta(hours=1)) == []  # nobody tells a user who left that nobody came


# --- the queue timeout --------------------------------------------------------------------------


def test_handoffs_unclaimed_for_the_timeout_are_overdue_once(store, monkeypatch):
    _, number = handoff.open_handoff("s1", [user("转人工", "request_human")], None)
    assert desk.overdue(DAYTIME + timedelta(minutes=9)) == []
    assert [t.number for t in desk.overdue(DAYTIME + timedelta(minutes=10))] == [number]
    assert desk.mark_timed_out(number) is True
    assert desk.mark_timed_out(number) is False
    assert desk.overdue(DAYTIME + timedelta(minutes=30)) == []

    monkeypatch.setenv("DESK_QUEUE_TIMEOUT_MINUTES", "2")
    _, other = handoff.open_handoff("s2", [user("转人工", "request_human")], None)
    assert [t.number for t in desk.overdue(DAYTIME + timedelta(minutes=2))] == [other]


def test_night_messages_wait_for_the_morning_without_a_timeout(store):
    with clock.frozen_at(DAYTIME.replace(hour=2)):
        _, number = handoff.open_handoff("s1", [user("转人工", "request_human")], None)
    assert desk.ticket(number).kind == "message"
    assert desk.overdue(DAYTIME) == []
    assert [entry.number for entry in desk.queue()] == [number]  # the morning shift's queue


def test_the_default_timeout_is_ten_minutes(store):
    assert desk.queue_timeout() == timedelta(minutes=10)


# --- what the desk says ---------------------------------------------------------------------------


def test_closing_hands_back_and_asks_for_the_rating(store):
    message = desk.closing_message()
    assert message["text"].startswith("人工客服已结束本次服务")
    assert message["buttons"] == reply("ask_rating")["buttons"]
    assert desk.closing_slots("T20261125-0001") == {
        "handoff_ticket": None, "last_case": "handoff", "last_ticket": "T20261125-0001"}
    assert desk.joined_message("小王")["text"].startswith("人工客服 小王 已接入")


# --- the transcript ---------------------------------------------------------------------------------


def test_the_transcript_is_the_bots_part_then_the_tickets_messages(store):
    _, number = handoff.open_handoff("s1", [user("转人工", "request_human")], None)
    rating = [{"title": "5分", "payload": '/rate{"rating": "5"}'}]
    events = [
        user("查物流", "logistics"),
        bot("请发订单号", rating),
        user('/rate{"rating": "5"}', "rate"),
        user("/logistics", "logistics", metadata={"shown_as": "物流/快递"}),
        bot(f"已为您建好转人工工单：{number}"),
        {"event": "slot", "name": "handoff_ticket", "value": number},
        user("在吗"),  # relayed: told by the ticket's messages below
    ]
    backends.tickets().add_message(number, "在吗")
    desk.file_desk_message(number, "joined", "人工客服 小王 已接入")
    desk.file_agent_message(number, "wang", "<b>您好</b>")

    items = desk.transcript(events, number, desk.messages_after([number]))
    assert [(item["from"], item["text"]) for item in items] == [
        ("user", "查物流"), ("bot", "请发订单号"), ("user", "5分"), ("user", "物流/快递"),
        ("bot", f"已为您建好转人工工单：{number}"),
        ("user", "在吗"), ("bot", "人工客服 小王 已接入"), ("agent", "<b>您好</b>")]
    assert items[1]["buttons"] == ["5分"] and items[-1]["agent"] == "wang"
    assert all(isinstance(item["id"], int) for item in items[5:])


# --- WeChat's budget ----------------------------------------------------------------------------------


def test_wechat_allows_five_messages_after_the_users_last_one_one_kept_for_closing(store):
    _, number = handoff.open_handoff("s1", [user("转人工", "request_human")], None, "wechat")
    created = desk.ticket(number).created_at
    assert desk.wechat_budget(number, created).as_json()["left"] == 5

    desk.file_desk_message(number, "joined", "已接入")
    for text in ("一", "二", "三"):
        desk.file_agent_message(number, "wang", text)
    budget = desk.wechat_budget(number, created)
    assert (budget.used, budget.left, budget.left_for_agent) == (4, 1, 0)

    backends.tickets().add_message(number, "好的")  # the user writes: a new window
    budget = desk.wechat_budget(number, created)
    assert (budget.used, budget.left, budget.left_for_agent) == (0, 5, 4)
    assert budget.window_ends == created + timedelta(hours=48)
    with clock.frozen_at(DAYTIME + timedelta(hours=49)):
        assert desk.wechat_budget(number, created).left == 0
