"""Stores holding the known conversations of scenario.py, on SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest
from rasa.core.tracker_store import SQLTrackerStore

from bot.stores.database import create_engine_for
from bot.stores.tickets import TicketStore
from tests.bot.report.scenario import write_tickets_and_ratings, write_trackers


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
def postgres_stores() -> Iterator[Stores]:
    """Both stores in one fresh PostgreSQL database, as in the production profile."""
    from tests.bot.stores.conftest import _temporary_postgres_database

    databases = _temporary_postgres_database()
    url = next(databases)
    tracker_store = SQLTrackerStore(dialect="postgresql", host=url)
    write_trackers(tracker_store)
    tracker_store.engine.dispose()
    engine = create_engine_for(url)
    write_tickets_and_ratings(TicketStore(engine))
    engine.dispose()
    yield Stores(url, url)
    next(databases, None)  # drops the database

