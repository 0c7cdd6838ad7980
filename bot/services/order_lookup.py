"""Finding the order a user means from what they typed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from bot.entities import number_entities
from bot.services import backends
from bot.stores.orders import Order, OrderStore
from bot.text import normalize

# Asked for an order number, people also type it without the dash.
_BARE_ORDER_NUMBER = re.compile(r"(?<![0-9])(\d{6})-?(\d{15})(?![0-9])")


@dataclass(frozen=True)
class Lookup:
    order: Optional[Order]
    reference: Optional[str]  # the order or tracking number read, if any

    @property
    def found(self) -> bool:
        return self.order is not None


def references(text: str) -> list[str]:
    """Order and tracking numbers in ``text``, in the order written."""
    clean = normalize(text or "")
    found = [match.value for match in number_entities(clean, ("order_id", "tracking_number"))]
    for match in _BARE_ORDER_NUMBER.finditer(clean):
        canonical = f"{match.group(1)}-{match.group(2)}"
        if canonical not in found:
            found.append(canonical)
    return found


def find_order(store: OrderStore, text: str) -> Lookup:
    """The first order that a number in ``text`` names, by order or tracking number."""
    candidates = references(text)
    for reference in candidates:
        order = store.get(reference) or store.by_tracking_number(reference)
        if order is not None:
            return Lookup(order, reference)
    return Lookup(None, candidates[0] if candidates else None)


def lookup_order(text: str) -> Lookup:
    """:func:`find_order` in the order system the bot is configured with (``ORDER_STORE``)."""
    return find_order(backends.orders(), text)


def order_by_id(order_id: str) -> Optional[Order]:
    """The order ``order_id`` in the configured order system, or None."""
    return backends.orders().get(order_id)
