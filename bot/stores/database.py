"""The service database: one engine per URL, tuned for SQLite and PostgreSQL.

Tickets, ratings and the demo order system live in one database, by default
an SQLite file in ``<repo>/.data``. Set ``DATABASE_URL`` (for example
``postgresql://user:pass@host/db``) when several action servers must share
their tickets: numbering then stays unique across all of them.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.clock import in_service_zone
from bot.settings import DATA_DIR

DEFAULT_DATABASE_PATH = DATA_DIR / "service.db"
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATABASE_PATH}"
SQLITE_BUSY_TIMEOUT_MS = 5000
# Any fixed number: PostgreSQL advisory lock held while creating tables.
_SCHEMA_LOCK_KEY = 7431026110
_SCHEMA_ATTEMPTS = 3


def database_url() -> str:
    """``DATABASE_URL`` if set, else the SQLite file in ``<repo>/.data``."""
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def normalize_url(url: str) -> str:
    # Heroku and some hosting panels still hand out "postgres://" URLs,
    # which SQLAlchemy 1.4 no longer accepts.
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


def create_engine_for(url: str) -> Engine:
    """A new engine for ``url``, with the settings its database needs."""
    url = normalize_url(url)
    if is_sqlite(url):
        return _sqlite_engine(url)
    return sa.create_engine(url, pool_pre_ping=True, future=True)


def shared_engine(url: Optional[str] = None) -> Engine:
    """The process-wide engine for ``url`` (default: :func:`database_url`)."""
    return _cached_engine(normalize_url(url or database_url()))


@functools.cache
def _cached_engine(url: str) -> Engine:
    return create_engine_for(url)


def is_sqlite(url: str) -> bool:
    return sa.engine.make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(url: str) -> Engine:
    database = sa.engine.make_url(url).database
    in_memory = not database or database == ":memory:"
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False},
        # A memory database exists once per connection: share that one.
        poolclass=sa.pool.StaticPool if in_memory else sa.pool.QueuePool,
        future=True,
    )
    sa.event.listen(engine, "connect", _tune_sqlite_connection)
    return engine


def _tune_sqlite_connection(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # The busy timeout comes first so that switching to WAL waits for a
    # writer in another process instead of failing at once.
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def create_tables(engine: Engine, metadata: sa.MetaData) -> None:
    """Create the missing tables; safe when several processes start at once."""
    for attempt in range(1, _SCHEMA_ATTEMPTS + 1):
        try:
            _create_tables_once(engine, metadata)
            return
        except sa.exc.DBAPIError:
            # Another process created a table between our check and our
            # CREATE (SQLite has no lock for that); the next check sees it.
            if attempt == _SCHEMA_ATTEMPTS:
                raise


def _create_tables_once(engine: Engine, metadata: sa.MetaData) -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        metadata.create_all(connection)


class ServiceTime(sa.types.TypeDecorator):
    """An aware datetime, stored in UTC and read back in the service's zone.

    SQLite keeps no offset, so a time written there as Shanghai time would
    read back eight hours off on a machine in another zone.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        moment = in_service_zone(value).astimezone(timezone.utc)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return in_service_zone(value)
