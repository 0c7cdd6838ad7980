"""Stores holding the known conversations of scenario.py, on SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import pytest
from rasa.core.tracker_store import SQLTrackerStore

from bot.stores.database import create_engine_for
from bot.stores.tickets import TicketStore
from tests.bot.report.scenario import frustration_events, write_tickets_and_ratings, write_trackers


@dataclass(frozen=True)
class Stores:
    tracker_url: str
    service_url: str


@pytest.fixture
def sqlite_stores(tmp_path) -> Stores:
    tracker_path = tmp_path / "tracker.db"
    write_trackers(SQLTrackerStore(dialect="sqlite", db=str(tracker_path)))
    service_url = f"sqlite:///{tmp_path / 'service.db'}"
    engine = create_engine_for(service_url)
    write_tickets_and_ratings(TicketStore(engine))
    engine.dispose()
    return Stores(f"sqlite:///{tracker_path}", service_url)


@pytest.fixture
def frustration_stores(tmp_path) -> Stores:
    """The frustrated conversations of scenario.py on SQLite, and an empty ticket store."""
    tracker_path = tmp_path / "frustration-tracker.db"
    write_trackers(SQLTrackerStore(dialect="sqlite", db=str(tracker_path)), frustration_events())
    return Stores(f"sqlite:///{tracker_path}", f"sqlite:///{tmp_path / 'no-service.db'}")


@pytest.fixture
def postgres_stores() -> Iterator[Stores]:
    """Both stores in one fresh PostgreSQL database, as in the production profile."""
    yield from _on_postgres(write_trackers, write_tickets_and_ratings)


@pytest.fixture
def postgres_frustration_stores() -> Iterator[Stores]:
    """The frustrated conversations of scenario.py on PostgreSQL, no tickets."""
    yield from _on_postgres(lambda store: write_trackers(store, frustration_events()), lambda _store: None)


def _on_postgres(
    write_events: Callable[[SQLTrackerStore], None], write_service: Callable[[TicketStore], None]
) -> Iterator[Stores]:
    from tests.bot.stores.conftest import _temporary_postgres_database

    databases = _temporary_postgres_database()
    url = next(databases)
    tracker_store = SQLTrackerStore(dialect="postgresql", host=url)
    write_events(tracker_store)
    tracker_store.engine.dispose()
    engine = create_engine_for(url)
    write_service(TicketStore(engine))
    engine.dispose()
    yield Stores(url, url)
    next(databases, None)  # drops the database
