"""Who holds a handed-off conversation is decided in the database, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.stores.desk import DeskStore, EndReason
from bot.stores.tickets import TicketKind, TicketStatus, TicketStore

NOW = datetime(2026, 11, 25, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def tickets(engine) -> TicketStore:
    return TicketStore(engine)


@pytest.fixture
def desk(engine) -> DeskStore:
    return DeskStore(engine)


def handoff(tickets: TicketStore, minutes_ago: int = 0, priority: bool = False, kind: str = TicketKind.HANDOFF):
    return tickets.create(kind, f"user-{minutes_ago}-{priority}", "转人工", priority=priority,
                          now=NOW - timedelta(minutes=minutes_ago))


def test_the_queue_is_priority_first_then_the_longest_waiting(tickets, desk):
    recent = handoff(tickets, minutes_ago=1)
    oldest = handoff(tickets, minutes_ago=30)
    urgent = handoff(tickets, minutes_ago=2, priority=True)
    night_message = handoff(tickets, minutes_ago=400, kind=TicketKind.MESSAGE)
    tickets.create(TicketKind.COMPLAINT, "someone", "投诉", now=NOW)  # not a conversation waiting for a person

    assert [ticket.number for ticket in desk.queue()] == [urgent.number, night_message.number, oldest.number,
                                                          recent.number]


def test_a_claim_takes_the_ticket_out_of_the_queue_once(tickets, desk):
    ticket = handoff(tickets)

    assert desk.claim(ticket.number, "wang", now=NOW) is True
    assert desk.claim(ticket.number, "li", now=NOW) is False
    assert desk.queue() == []
    assert tickets.get(ticket.number).status == TicketStatus.IN_PROGRESS
    assert (desk.holder(ticket.number).agent_id, desk.holder(ticket.number).started_at) == ("wang", NOW)
    assert [(assignment.ticket_number, held.number) for assignment, held in desk.held_by("wang")] == [
        (ticket.number, ticket.number)]
    assert desk.held_by("li") == []


def test_only_conversations_handed_to_a_person_can_be_claimed(tickets, desk):
    complaint = tickets.create(TicketKind.COMPLAINT, "someone", "投诉", now=NOW)
    assert desk.claim(complaint.number, "wang") is False
    assert desk.claim("T20261125-9999", "wang") is False
    assert desk.claim("not a number", "wang") is False


def test_many_agents_claiming_at_the_same_moment_one_wins(tickets, engine):
    ticket = handoff(tickets)
    start = threading.Barrier(8)
    results = {}

    def claim(agent: str) -> None:
        store = DeskStore(engine)
        start.wait()
        results[agent] = store.claim(ticket.number, agent)

    threads = [threading.Thread(target=claim, args=(f"agent{index}",)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [agent for agent, won in results.items() if won]
    assert len(winners) == 1
    assert [assignment.agent_id for assignment in DeskStore(engine).assignments(ticket.number)] == winners


def test_only_the_holder_closes_and_the_ticket_is_resolved(tickets, desk):
    ticket = handoff(tickets)
    desk.claim(ticket.number, "wang", now=NOW)

    assert desk.finish(ticket.number, EndReason.CLOSED, TicketStatus.RESOLVED, agent_id="li") is None
    ended = desk.finish(ticket.number, EndReason.CLOSED, TicketStatus.RESOLVED, agent_id="wang",
                        now=NOW + timedelta(minutes=7))
    assert (ended.agent_id, ended.end_reason, ended.ended_at - ended.started_at) == (
        "wang", "closed", timedelta(minutes=7))
    assert tickets.get(ticket.number).status == TicketStatus.RESOLVED
    assert desk.holder(ticket.number) is None
    assert desk.finish(ticket.number, EndReason.CLOSED, TicketStatus.RESOLVED, agent_id="wang") is None


def test_a_transfer_moves_the_conversation_and_keeps_who_handled_it(tickets, desk):
    ticket = handoff(tickets)
    desk.claim(ticket.number, "wang")

    assert desk.transfer(ticket.number, "li", "zhao") is False  # li does not hold it
    assert desk.transfer(ticket.number, "wang", "li") is True
    assert desk.holder(ticket.number).agent_id == "li"
    assert [(a.agent_id, a.end_reason) for a in desk.assignments(ticket.number)] == [
        ("wang", "transferred"), ("li", None)]


def test_a_released_claim_puts_the_conversation_back_in_the_queue(tickets, desk):
    ticket = handoff(tickets)
    desk.claim(ticket.number, "wang")

    assert desk.release(ticket.number, "wang") is True
    assert [waiting.number for waiting in desk.queue()] == [ticket.number]
    assert desk.claim(ticket.number, "li") is True


def test_a_notice_is_recorded_once(tickets, desk):
    ticket = handoff(tickets)
    assert desk.add_notice(ticket.number, "timeout") is True
    assert desk.add_notice(ticket.number, "timeout") is False
    assert desk.notices([ticket.number]) == {ticket.number: {"timeout"}}
    desk.remove_notice(ticket.number, "timeout")
    assert desk.notices([ticket.number]) == {}


def test_tickets_waiting_too_long_without_a_notice(tickets, desk):
    old = handoff(tickets, minutes_ago=15)
    told = handoff(tickets, minutes_ago=20)
    handoff(tickets, minutes_ago=5)
    handoff(tickets, minutes_ago=500, kind=TicketKind.MESSAGE)
    desk.add_notice(told.number, "timeout")

    overdue = desk.waiting_since(NOW - timedelta(minutes=10), [TicketKind.HANDOFF], ["timeout"])
    assert [ticket.number for ticket in overdue] == [old.number]


def test_messages_after_an_id(tickets, desk):
    first, second = handoff(tickets), handoff(tickets, minutes_ago=1)
    tickets.add_message(first.number, "一")
    tickets.add_message(second.number, "二", author="agent:wang")
    tickets.add_message(first.number, "三")

    everything = desk.messages([first.number, second.number])
    assert [(m.ticket_number, m.author, m.text) for m in everything] == [
        (first.number, "user", "一"), (second.number, "agent:wang", "二"), (first.number, "user", "三")]
    assert [m.text for m in desk.messages([first.number], after_id=everything[0].id)] == ["三"]
    assert desk.messages([]) == []


def test_a_session_lasts_until_it_expires_or_is_ended(desk):
    desk.create_session("hash-1", "wang", "csrf-1", expires_at=NOW + timedelta(hours=12))

    assert desk.session("hash-1", now=NOW).agent_id == "wang"
    assert desk.session("hash-1", now=NOW + timedelta(hours=13)) is None
    assert desk.session("hash-2", now=NOW) is None
    desk.delete_session("hash-1")
    assert desk.session("hash-1", now=NOW) is None
