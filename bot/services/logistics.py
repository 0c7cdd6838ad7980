"""What a parcel's tracking says, and when it needs a person."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Optional

from bot import clock, knowledge
from bot.stores.orders import Order

STALE = "stale"
NOT_RECEIVED = "not_received"
_ON_THE_WAY = {"shipped", "in_transit"}


def status_label(status: str) -> str:
    return knowledge.load("cases")["logistics"]["status_labels"].get(status, status)


def parcel_problem(order: Order, user_texts: Iterable[str], now: datetime) -> Optional[str]:
    """STALE: on its way with no update for too long; NOT_RECEIVED: signed but the user says no."""
    rules = knowledge.load("cases")["logistics"]
    if order.status in _ON_THE_WAY:
        hours = order.hours_since_last_update(now)
        if hours is not None and hours > rules["stale_after_hours"]:
            return STALE
    if order.status == "delivered" and _says_not_received(user_texts):
        return NOT_RECEIVED
    return None


def latest_events_text(order: Order) -> str:
    """The newest tracking events, one per line, Shanghai time."""
    shown = knowledge.load("cases")["logistics"]["events_shown"]
    lines: list[str] = [
        f"· {clock.in_service_zone(event.time):%m-%d %H:%M} {event.description}" for event in order.events[:shown]
    ]
    return "\n".join(lines)


def status_response(order: Order) -> str:
    """The reply (replies.yml) that tells where this order's parcel is."""
    if order.status == "cancelled":
        return "logistics_cancelled"
    return "logistics_status" if order.events else "logistics_pending"


def problem_summary(problem: str, order: Order) -> str:
    """The summary of the ticket a parcel problem (:data:`STALE`, :data:`NOT_RECEIVED`) opens."""
    what = "物流长时间未更新" if problem == STALE else "显示签收但未收到"
    summary = f"{what}：{order.item}，{order.carrier or ''} {order.tracking_number or ''}"
    return summary.strip()


def problem_response(problem: str) -> str:
    """The reply (replies.yml) that gives the ticket of a parcel problem."""
    return "logistics_stale_ticket" if problem == STALE else "logistics_not_received_ticket"


def stale_after_hours() -> int:
    return int(knowledge.load("cases")["logistics"]["stale_after_hours"])


def _says_not_received(texts: Iterable[str]) -> bool:
    phrases = knowledge.load("cases")["logistics"]["not_received_phrases"]
    return any(phrase in text for text in texts for phrase in phrases)
