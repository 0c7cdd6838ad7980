"""The cases' tickets: opened (once), read back, messages and ratings filed.

The one service module that calls the ticket store; the cases (bot.services.cases,
bot.services.handoff) open and update their tickets through it, and actions
only see the replies and ticket numbers it returns.
"""

from __future__ import annotations

from typing import Any, Optional

from bot import clock, metrics
from bot.services import backends
from bot.services.replies import reply
from bot.services.tickets_view import listed_tickets, ticket_list, ticket_values
from bot.stores.tickets import Ticket, TicketKind, TicketStatus, parse_ticket_number

# How far back a sender's tickets are searched for the same case still open.
_OPEN_ONCE_LOOKBACK = 20


def open_once(kind: str, sender_id: str, order_id: Optional[str], summary: str, **extra: Any) -> Ticket:
    """The sender's open ticket of this kind for this order, or a new one: asking twice is not two cases."""
    for ticket in backends.tickets().for_sender(sender_id, limit=_OPEN_ONCE_LOOKBACK):
        if (
            ticket.kind == kind
            and ticket.order_id == order_id
            and ticket.status in (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)
        ):
            return ticket
    return open_ticket(kind, sender_id, summary, order_id=order_id, **extra)


def has_open_priority_complaint(sender_id: str) -> bool:
    """The sender has a priority complaint (safety, large amount) nobody has resolved yet."""
    return any(
        ticket.kind == TicketKind.COMPLAINT
        and ticket.priority
        and ticket.status in (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)
        for ticket in backends.tickets().for_sender(sender_id, limit=_OPEN_ONCE_LOOKBACK)
    )


def open_ticket(kind: str, sender_id: str, summary: str, **extra: Any) -> Ticket:
    """A new ticket (``extra``: order_id, priority, phone, details)."""
    ticket = backends.tickets().create(kind, sender_id, summary, **extra)
    metrics.TICKETS_OPENED.labels(kind).inc()
    return ticket


def get(number: str) -> Optional[Ticket]:
    return backends.tickets().get(number)


def add_message(number: str, text: str, author: str = "user") -> bool:
    return backends.tickets().add_message(number, text, author=author)


def set_status(number: str, status: str) -> Optional[Ticket]:
    return backends.tickets().set_status(number, status)


def set_phone(number: str, phone: str) -> Optional[Ticket]:
    return backends.tickets().set_phone(number, phone)


def add_rating(sender_id: str, score: int, ticket_number: Optional[str], case: Optional[str]) -> None:
    backends.tickets().add_rating(sender_id, score, ticket_number=ticket_number, case=case)


def status_reply(text: str, sender_id: str) -> dict[str, Any]:
    """The ticket a number in ``text`` names, else the sender's latest tickets."""
    number = parse_ticket_number(text or "")
    if number:
        ticket = backends.tickets().get(number)
        if ticket is None:
            return reply("ticket_not_found", ticket_number=number, ticket_number_example=example_number())
        return reply("ticket_found", **ticket_values(ticket))
    mine = backends.tickets().for_sender(sender_id, limit=listed_tickets())
    if mine:
        return reply("my_tickets", ticket_list=ticket_list(mine))
    return reply("no_tickets")


def example_number() -> str:
    """Today's first ticket number: how a ticket number looks."""
    return f"T{clock.now():%Y%m%d}-0001"
