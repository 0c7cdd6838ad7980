"""A refund's state in words, and when it becomes a dispute."""

from __future__ import annotations

from bot import knowledge
from bot.stores.orders import Order


def refund_state_label(state: str) -> str:
    return knowledge.load("cases")["refund"]["state_labels"].get(state, state)


def is_dispute(order: Order) -> bool:
    """A rejected or contested refund is a dispute (3-7 working days, a ticket)."""
    return order.refund_state in knowledge.load("cases")["refund"]["dispute_states"]


def refund_response(order: Order) -> str:
    """The reply (replies.yml) that explains this order's refund state."""
    return f"refund_state_{order.refund_state}"


def dispute_summary(order: Order) -> str:
    """The summary of the dispute ticket a contested refund opens."""
    return f"退款纠纷：{order.item}（{refund_state_label(order.refund_state)}）"
