"""The order system the bot reads: orders, their tracking and refund state.

The bot only reads orders. :class:`OrderStore` is the interface a shop
implements to plug in its real order system; without one, a
:class:`SQLOrderStore` holds the demo orders of
``bot/knowledge/demo_orders.yml`` so every flow can be tried end to end.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Optional, Protocol, Union, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot import clock, knowledge
from bot.stores.database import ServiceTime, create_tables, database_url, shared_engine
from bot.text import to_half_width

# Pinduoduo order numbers: order date (YYMMDD), a dash, 15 digits.
ORDER_ID_PATTERN = re.compile(r"\d{6}-\d{15}")
_WHITESPACE = re.compile(r"\s+")
_FEN_PER_YUAN = Decimal(100)


class OrderStatus:
    PENDING_SHIPMENT = "pending_shipment"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    ALL = frozenset({PENDING_SHIPMENT, SHIPPED, IN_TRANSIT, DELIVERED, CANCELLED})


class RefundState:
    NONE = "none"
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUNDED = "refunded"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    ALL = frozenset({NONE, REQUESTED, APPROVED, REFUNDED, REJECTED, DISPUTED})


@dataclass(frozen=True)
class TrackingEvent:
    time: datetime
    description: str


@dataclass(frozen=True)
class Order:
    order_id: str
    item: str
    amount: Decimal
    status: str
    carrier: Optional[str]
    tracking_number: Optional[str]
    events: tuple[TrackingEvent, ...]
    refund_state: str
    refund_amount: Optional[Decimal]
    placed_at: datetime

    def __post_init__(self) -> None:
        if self.status not in OrderStatus.ALL:
            raise ValueError(f"unknown order status {self.status!r}")
        if self.refund_state not in RefundState.ALL:
            raise ValueError(f"unknown refund state {self.refund_state!r}")
        # Newest first whatever order an order system hands them over in.
        newest_first = tuple(sorted(self.events, key=lambda event: event.time, reverse=True))
        object.__setattr__(self, "events", newest_first)

    @property
    def latest_event(self) -> Optional[TrackingEvent]:
        return self.events[0] if self.events else None

    def hours_since_last_update(self, now: Optional[datetime] = None) -> Optional[float]:
        """Hours since the newest tracking event; None before the first one."""
        if self.latest_event is None:
            return None
        moment = clock.in_service_zone(now) if now is not None else clock.now()
        return (moment - self.latest_event.time).total_seconds() / 3600


@runtime_checkable
class OrderStore(Protocol):
    """Where the bot looks orders up: implement this for the shop's order system.

    Write a class with these two methods, returning :class:`Order` objects
    (events newest first, times timezone-aware) or None for an unknown
    number, and whose constructor takes no arguments (read connection
    settings from your own environment variables). Then point the action
    server at it::

        ORDER_STORE=myshop.orders:ShopOrderStore rasa run actions

    The methods are called from the action server's threads, so they must be
    safe to call concurrently.
    """

    def get(self, order_id: str) -> Optional[Order]:
        """The order with this number, as the shopper wrote it (e.g. ``261120-482913004417265``)."""

    def by_tracking_number(self, number: str) -> Optional[Order]:
        """The order shipped with this tracking number, in any letter case."""


metadata = sa.MetaData()

orders_table = sa.Table(
    "service_orders",
    metadata,
    sa.Column("order_id", sa.String(32), primary_key=True),
    sa.Column("item", sa.Text, nullable=False),
    # Money in fen: exact in every database (SQLite has no decimal type).
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("carrier", sa.String(32)),
    sa.Column("tracking_number", sa.String(40), index=True),
    sa.Column("refund_state", sa.String(16), nullable=False),
    sa.Column("refund_amount_fen", sa.BigInteger),
    sa.Column("placed_at", ServiceTime, nullable=False),
)

events_table = sa.Table(
    "service_tracking_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "order_id",
        sa.String(32),
        sa.ForeignKey("service_orders.order_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("time", ServiceTime, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
)


class SQLOrderStore:
    """An :class:`OrderStore` in the service database (the demo orders)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine, metadata)

    def get(self, order_id: str) -> Optional[Order]:
        return self._find(orders_table.c.order_id == _compact(order_id))

    def by_tracking_number(self, number: str) -> Optional[Order]:
        return self._find(orders_table.c.tracking_number == _tracking_key(number))

    def upsert(self, order: Order) -> None:
        """Store the order, replacing any stored version and its events."""
        with self._engine.begin() as connection:
            _upsert(connection, order)

    def seed_from_file(self, path: Union[str, Path], now: Optional[datetime] = None) -> int:
        """Store the demo orders of ``path``, dated relative to ``now``; their count."""
        moment = clock.in_service_zone(now) if now is not None else clock.now()
        orders = [_demo_order(entry, moment) for entry in _demo_entries(path)]
        with self._engine.begin() as connection:
            for order in orders:
                _upsert(connection, order)
        return len(orders)

    def _find(self, condition: Any) -> Optional[Order]:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(orders_table).where(condition)).mappings().first()
            if row is None:
                return None
            return _order_from_row(row, _events_of(connection, row["order_id"]))


def load_order_store() -> OrderStore:
    """The store of env ``ORDER_STORE`` ("module:Class"), else the demo orders."""
    return _order_store(os.environ.get("ORDER_STORE", "").strip(), database_url())


@functools.cache
def _order_store(spec: str, url: str) -> OrderStore:
    if spec:
        return _import_order_store(spec)
    store = SQLOrderStore(shared_engine(url))
    store.seed_from_file(knowledge.path("demo_orders"))
    return store


def _import_order_store(spec: str) -> OrderStore:
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"ORDER_STORE must look like 'package.module:ClassName', not {spec!r}")
    store = getattr(importlib.import_module(module_name), class_name)()
    if not isinstance(store, OrderStore):
        raise TypeError(f"{spec} needs the methods get(order_id) and by_tracking_number(number)")
    return store


@functools.cache
def load_demo_scenarios() -> dict[str, str]:
    """Scenario name (e.g. ``in_transit_stale``) to the demo order showing it."""
    return {entry["scenario"]: str(entry["order_id"]) for entry in knowledge.load("demo_orders")["orders"]}


def _demo_entries(path: Union[str, Path]) -> list[dict[str, Any]]:
    return knowledge.read(path)["orders"]


def _demo_order(entry: Mapping[str, Any], now: datetime) -> Order:
    return Order(
        order_id=str(entry["order_id"]),
        item=entry["item"],
        amount=Decimal(str(entry["amount"])),
        status=entry["status"],
        carrier=entry.get("carrier"),
        tracking_number=entry.get("tracking_number"),
        events=tuple(
            TrackingEvent(_hours_before(now, event["hours_ago"]), event["description"])
            for event in entry.get("events") or ()
        ),
        refund_state=entry.get("refund_state", RefundState.NONE),
        refund_amount=_optional_decimal(entry.get("refund_amount")),
        placed_at=_hours_before(now, entry["placed_hours_ago"]),
    )


def _hours_before(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=float(hours))


def _optional_decimal(value: Any) -> Optional[Decimal]:
    return None if value is None else Decimal(str(value))


def _upsert(connection: Connection, order: Order) -> None:
    _upsert_order_row(connection, _order_row(order))
    connection.execute(events_table.delete().where(events_table.c.order_id == order.order_id))
    if order.events:
        connection.execute(
            events_table.insert(),
            [
                {"order_id": order.order_id, "time": event.time, "description": event.description}
                for event in order.events
            ],
        )


def _upsert_order_row(connection: Connection, row: dict[str, Any]) -> None:
    # ON CONFLICT lets several action servers seed the demo orders at once.
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(connection.dialect.name)
    if dialect is None:
        _update_or_insert(connection, row)
        return
    statement = dialect.insert(orders_table).values(**row)
    changes = {name: statement.excluded[name] for name in row if name != "order_id"}
    connection.execute(statement.on_conflict_do_update(index_elements=[orders_table.c.order_id], set_=changes))


def _update_or_insert(connection: Connection, row: dict[str, Any]) -> None:
    key = orders_table.c.order_id == row["order_id"]
    if connection.execute(orders_table.update().where(key).values(**row)).rowcount == 0:
        connection.execute(orders_table.insert().values(**row))


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "item": order.item,
        "amount_fen": _to_fen(order.amount),
        "status": order.status,
        "carrier": order.carrier,
        "tracking_number": _tracking_key(order.tracking_number) if order.tracking_number else None,
        "refund_state": order.refund_state,
        "refund_amount_fen": None if order.refund_amount is None else _to_fen(order.refund_amount),
        "placed_at": order.placed_at,
    }


def _events_of(connection: Connection, order_id: str) -> tuple[TrackingEvent, ...]:
    query = (
        sa.select(events_table.c.time, events_table.c.description)
        .where(events_table.c.order_id == order_id)
        .order_by(events_table.c.time.desc(), events_table.c.id)
    )
    return tuple(TrackingEvent(row.time, row.description) for row in connection.execute(query))


def _order_from_row(row: Mapping[str, Any], events: tuple[TrackingEvent, ...]) -> Order:
    refund_fen = row["refund_amount_fen"]
    return Order(
        order_id=row["order_id"],
        item=row["item"],
        amount=_from_fen(row["amount_fen"]),
        status=row["status"],
        carrier=row["carrier"],
        tracking_number=row["tracking_number"],
        events=events,
        refund_state=row["refund_state"],
        refund_amount=None if refund_fen is None else _from_fen(refund_fen),
        placed_at=row["placed_at"],
    )


def _to_fen(amount: Decimal) -> int:
    return int((Decimal(amount) * _FEN_PER_YUAN).to_integral_value(rounding=ROUND_HALF_UP))


def _from_fen(fen: int) -> Decimal:
    return Decimal(int(fen)).scaleb(-2)


def _compact(text: str) -> str:
    # Numbers pasted from the app arrive with full-width digits and spaces.
    return _WHITESPACE.sub("", to_half_width(text or ""))


def _tracking_key(number: str) -> str:
    return _compact(number).upper()
