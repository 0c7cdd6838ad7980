"""Tickets as the user reads them back."""

from __future__ import annotations

from collections.abc import Iterable

from bot import clock, knowledge
from bot.stores.tickets import Ticket


def ticket_values(ticket: Ticket) -> dict[str, str]:
    """The placeholders of the ``ticket_found`` reply."""
    labels = knowledge.load("cases")["tickets"]
    return {
        "ticket_number": ticket.number,
        "ticket_kind": labels["kind_labels"].get(ticket.kind, ticket.kind),
        "ticket_priority": labels["priority_label"] if ticket.priority else "",
        "ticket_status": labels["status_labels"].get(ticket.status, ticket.status),
        "ticket_created": f"{clock.in_service_zone(ticket.created_at):%Y-%m-%d %H:%M}",
        "ticket_summary": _shortened(ticket.summary, labels["summary_chars"]),
    }


def ticket_list(tickets: Iterable[Ticket]) -> str:
    """One line per ticket: number, kind, status."""
    lines = []
    for ticket in tickets:
        values = ticket_values(ticket)
        lines.append(f"· {values['ticket_number']} {values['ticket_kind']}：{values['ticket_status']}")
    return "\n".join(lines)


def listed_tickets() -> int:
    return int(knowledge.load("cases")["tickets"]["listed"])


def _shortened(text: str, limit: int) -> str:
    first_line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return first_line if len(first_line) <= limit else first_line[:limit] + "…"
