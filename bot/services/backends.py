"""The stores the actions use, created once per process from the environment."""

from __future__ import annotations

import functools

from bot.stores.database import database_url, shared_engine
from bot.stores.desk import DeskStore
from bot.stores.orders import OrderStore, load_order_store
from bot.stores.tickets import TicketStore


@functools.cache
def tickets() -> TicketStore:
    """Tickets and ratings in the service database (``DATABASE_URL``, default SQLite)."""
    return TicketStore(shared_engine())


def desk() -> DeskStore:
    """The agent desk's assignments, notices and sessions, beside the tickets (same database)."""
    return _desk_store(database_url())


@functools.cache
def _desk_store(url: str) -> DeskStore:
    return DeskStore(shared_engine(url))


def orders() -> OrderStore:
    """The order system (``ORDER_STORE``, default the demo orders)."""
    return load_order_store()
