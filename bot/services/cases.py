"""What each case answers once its form has what it needs, and the tickets it opens.

actions/cases.py dispatches these answers. The rules are in the case services
(refunds, logistics, complaints, fraud), the words in bot/knowledge/replies.yml,
the tickets in bot.services.tickets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from bot import clock, metrics
from bot.services import complaints, conversation, fraud, logistics, refunds, tickets
from bot.services.order_lookup import order_by_id
from bot.services.rating import is_low
from bot.services.replies import reply
from bot.stores.orders import Order
from bot.stores.tickets import TicketKind

Event = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """The messages to send, in order, and the ticket the case opened (if any)."""

    messages: tuple[dict[str, Any], ...]
    ticket_number: Optional[str] = None


def order_values(order: Order) -> dict[str, Any]:
    """The order placeholders of the refund and logistics replies."""
    return {
        "order_id": order.order_id,
        "order_item": order.item,
        "order_amount": f"{order.amount:.2f}",
        "order_status": logistics.status_label(order.status),
        "refund_state": refunds.refund_state_label(order.refund_state),
        "refund_amount": f"{(order.refund_amount or order.amount):.2f}",
        "carrier": order.carrier or "",
        "tracking_number": order.tracking_number or "",
    }


def refund_status(sender_id: str, order: Order) -> Answer:
    """The refund's state; a rejected or contested refund also opens (once) a dispute ticket."""
    ticket_number = None
    if refunds.is_dispute(order):
        ticket = tickets.open_once(TicketKind.DISPUTE, sender_id, order.order_id, refunds.dispute_summary(order))
        ticket_number = ticket.number
    message = reply(refunds.refund_response(order), ticket_number=ticket_number, **order_values(order))
    return Answer((message,), ticket_number)


def logistics_status(sender_id: str, order: Order, events: Iterable[Event]) -> Answer:
    """Where the parcel is; a stale or not-received parcel also opens (once) a logistics ticket."""
    messages = [
        reply(
            logistics.status_response(order), tracking_events=logistics.latest_events_text(order), **order_values(order)
        )
    ]
    said = conversation.messages_since_intent(events, ["logistics"])
    problem = logistics.parcel_problem(order, [message.get("text") or "" for message in said], clock.now())
    if problem is None:
        return Answer(tuple(messages))
    ticket = tickets.open_once(
        TicketKind.LOGISTICS,
        sender_id,
        order.order_id,
        logistics.problem_summary(problem, order),
        details={"problem": problem},
    )
    messages.append(
        reply(
            logistics.problem_response(problem), ticket_number=ticket.number, stale_hours=logistics.stale_after_hours()
        )
    )
    return Answer(tuple(messages), ticket.number)


def open_complaint(sender_id: str, description: str, order_id: Optional[str], events: Iterable[Event]) -> Answer:
    """A complaint ticket, priority for safety or a large amount (said, or the order's)."""
    order = order_by_id(order_id) if order_id else None
    messages = conversation.messages_since_intent(events, ["complaint"])
    priority = complaints.is_priority(
        conversation.entity_values(messages, "safety_signal"),
        [complaints.amount_in_yuan(value) for value in conversation.entity_values(messages, "amount")]
        + [order.amount if order else None],
    )
    ticket = tickets.open_ticket(
        TicketKind.COMPLAINT,
        sender_id,
        description,
        order_id=order_id,
        priority=priority,
        details={"messages": [message.get("text") for message in messages]},
    )
    if priority:  # the report counts a priority complaint as an escalation: so do the metrics
        metrics.ESCALATIONS.labels(metrics.PRIORITY_COMPLAINT).inc()
    message = reply("complaint_priority" if priority else "complaint_normal", ticket_number=ticket.number)
    return Answer((message,), ticket.number)


def fraud_check(events: Iterable[Event]) -> Answer:
    """The risk of the contact described since the fraud question, and what to do."""
    messages = conversation.messages_since_intent(events, ["fraud_check"])
    assessment = fraud.assess(
        conversation.entity_values(messages, "fraud_signal"),
        conversation.entity_values(messages, "phone_number"),
        conversation.joined_text(messages),
    )
    return Answer(tuple(reply(name, **values) for name, values in fraud.fraud_replies(assessment)))


def store_rating(sender_id: str, score: int, ticket_number: Optional[str], case: Optional[str]) -> dict[str, Any]:
    """Files the rating of the last case; the thanks (or the apology for a low score)."""
    tickets.add_rating(sender_id, score, ticket_number=ticket_number, case=case)
    return reply("rating_low" if is_low(score) else "rating_thanks")
