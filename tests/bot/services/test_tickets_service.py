"""bot/services/tickets.py and the answers of bot/services/cases.py, without an action around them."""
from __future__ import annotations

from datetime import datetime

import pytest

from bot import clock
from bot.services import backends, cases, tickets
from bot.services.replies import reply
from bot.stores.tickets import TicketKind, TicketStatus
from tests.bot.services.test_cases_services import order

DAYTIME = datetime.fromisoformat("2026-11-25T10:30:00+08:00")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'service.db'}")
    backends.tickets.cache_clear()
    with clock.frozen_at(DAYTIME):
        yield backends.tickets()
    backends.tickets.cache_clear()


def test_open_once_gives_the_open_ticket_of_the_same_kind_and_order_again(store):
    first = tickets.open_once(TicketKind.DISPUTE, "s", "o-1", "A")
    assert tickets.open_once(TicketKind.DISPUTE, "s", "o-1", "B").number == first.number
    assert tickets.open_once(TicketKind.DISPUTE, "s", "o-2", "C").number != first.number
    assert tickets.open_once(TicketKind.LOGISTICS, "s", "o-1", "D").number != first.number
    store.set_status(first.number, TicketStatus.RESOLVED)
    assert tickets.open_once(TicketKind.DISPUTE, "s", "o-1", "E").number != first.number


def test_status_reply_reads_a_number_or_lists_the_senders_tickets(store):
    assert tickets.status_reply("我的工单", "s") == reply("no_tickets")
    assert tickets.status_reply("T20261125-0042 到哪了", "s") == reply(
        "ticket_not_found", ticket_number="T20261125-0042", ticket_number_example="T20261125-0001")
    number = tickets.open_ticket(TicketKind.COMPLAINT, "s", "假货").number
    assert number in tickets.status_reply(f"工单 {number}", "s")["text"]
    assert number in tickets.status_reply("我的工单", "s")["text"]


def test_a_contested_refund_opens_one_dispute_ticket(store):
    rejected = order(status="delivered", refund_state="rejected")
    answer = cases.refund_status("s", rejected)
    assert answer.ticket_number and cases.refund_status("s", rejected).ticket_number == answer.ticket_number
    assert store.get(answer.ticket_number).summary.startswith("退款纠纷：测试商品")
    assert cases.refund_status("s", order(refund_state="none")).ticket_number is None
