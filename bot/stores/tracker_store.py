"""An SQL tracker store that keeps recent conversations in memory.

Rasa's SQLTrackerStore reads and deserialises every event of the session on
each message, so a long conversation gets slower with every turn. This store
keeps the trackers it saved or loaded and checks them against the database
with one indexed query (the newest event id of the conversation): if another
process wrote to the conversation, only the events newer than the kept
tracker's are read and applied to it (the lock store lets one process at a
time write a conversation, so they arrive in order), unless they start a new
session, which is read whole. Saving a kept tracker (or a new conversation)
writes only its new events and takes their ids from the insert: one query per
save, where Rasa's save reads the conversation back (for the event broker) and
counts its rows.

Nothing is kept only in memory: every retrieve asks the database first (the
cache answers only what the database confirms), a tracker is kept only after
the database stored it, and a failed save drops the kept tracker. When the
database cannot be reached, its error is raised to the caller (Rasa's own
fallback to an in-memory store is switched off by
bot/rasa_compat/tracker_store_errors.py): the channels tell the user
(bot/channels/outage.py). At start the store waits for the database
(bot/stores/waiting.py) instead of letting Rasa start without it; pooled
connections are checked before use, so service resumes by itself when the
database is back.
Configure it in endpoints.yml with
``type: bot.stores.tracker_store.CachingSQLTrackerStore``.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs, validate_port
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.metrics import TRACKER_STORE_ERRORS, counts_errors
from bot.rasa_compat.tracker_copy import clone_tracker
from bot.stores.waiting import wait_until_reachable

DEFAULT_CACHE_SIZE = 2000
CONVERSATION_INDEX = "ix_events_sender_id_id"
# A database that does not answer a new connection within this is treated as
# unreachable (the user is told at once rather than after minutes).
CONNECT_TIMEOUT_SECONDS = 5
logger = logging.getLogger(__name__)


@dataclass
class _Cached:
    newest_event_id: int
    tracker: DialogueStateTracker


def _make_sqlite_folder(settings: dict[str, Any]) -> None:
    """The folder of an SQLite file (``db: .data/tracker.db``): plain ``rasa run`` in a fresh checkout has none."""
    if settings.get("dialect", "sqlite") == "sqlite" and not settings.get("host"):
        Path(settings.get("db") or "rasa.db").parent.mkdir(parents=True, exist_ok=True)


class CachingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore with a validated in-process cache of trackers."""

    engine: Any  # the SQLAlchemy engine SQLTrackerStore.__init__ creates (replaced for SQLite)

    def __init__(
        self,
        domain: Optional[Domain] = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        _make_sqlite_folder(kwargs)
        _wait_for_database(kwargs)
        super().__init__(domain, event_broker=event_broker, **kwargs)
        if self.engine.dialect.name == "sqlite":
            self._use_pooled_sqlite_engine()
        else:
            self._use_pinged_engine()
        self._ensure_schema(_describe(kwargs))
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_size = int(cache_size)
        events = self.SQLEvent.__table__
        self._newest_id_query = sa.select(sa.func.max(events.c.id)).where(
            events.c.sender_id == sa.bindparam("sender_id")
        )

    # Rasa's FailSafeTrackerStore hides a database error behind an in-memory
    # store and a log line: the counter lets monitoring see it.
    @counts_errors(TRACKER_STORE_ERRORS, "retrieve")
    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        newest = self._newest_event_id(sender_id)
        cached = self._cache.get(sender_id)
        if cached is not None and newest is not None and cached.newest_event_id == newest:
            self._cache.move_to_end(sender_id)
            return clone_tracker(cached.tracker)
        tracker = self._caught_up(cached, sender_id, newest) if cached and newest else None
        if tracker is None:
            tracker = await super().retrieve(sender_id)
        self._remember(sender_id, newest, tracker)
        return tracker

    def _caught_up(self, cached: _Cached, sender_id: str, newest: int) -> Optional[DialogueStateTracker]:
        """The kept tracker with the events another process stored since; None to read it whole."""
        with self.session_scope() as session:
            rows = (
                session.query(self.SQLEvent.data)
                .filter(
                    self.SQLEvent.sender_id == sender_id,
                    self.SQLEvent.id > cached.newest_event_id,
                    self.SQLEvent.id <= newest,
                )
                .order_by(self.SQLEvent.id)
                .all()
            )
        events = deserialise_events([json.loads(row.data) for row in rows])
        if len(events) != len(rows) or _starts_session(events):
            return None
        tracker = clone_tracker(cached.tracker)
        for event in events:
            tracker.update(event)
        return tracker

    @counts_errors(TRACKER_STORE_ERRORS, "save")
    async def save(self, tracker: DialogueStateTracker) -> None:
        try:
            await self._save(tracker)
        except Exception:
            # The database may hold the new events or not (a commit whose
            # answer was lost): the next retrieve reads what it holds.
            self._cache.pop(tracker.sender_id, None)
            raise

    async def _save(self, tracker: DialogueStateTracker) -> None:
        # What is stored already: the cache holds it (checked when the tracker
        # was retrieved; the lock store keeps other processes out until this
        # save is done), or nothing is stored (a new conversation). Then the
        # new events are the ones after it: no need to read the conversation
        # back and count its rows, as Rasa's save does.
        cached = self._cache.get(tracker.sender_id)
        if cached is not None and _continues(tracker, cached.tracker):
            stored, newest = len(cached.tracker.events), cached.newest_event_id
        elif cached is None and self._newest_event_id(tracker.sender_id) is None:
            stored, newest = 0, None
        else:
            await self._save_unknown(tracker)
            return
        new_events = list(itertools.islice(tracker.events, stored, None))
        serialised = [event.as_dict() for event in new_events]
        newest = self._insert(tracker.sender_id, new_events, serialised) or newest
        # Published once stored: the broker never carries an event the database lost.
        self._publish(tracker.sender_id, serialised)
        if _starts_session(new_events):
            self._cache.pop(tracker.sender_id, None)
            return
        self._remember(tracker.sender_id, newest, tracker)

    async def _save_unknown(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save, for a stored conversation the cache does not know."""
        await super().save(tracker)
        # A tracker holding the end of one session and the start of the next
        # differs from what the database returns (the new session only).
        if _starts_session(itertools.islice(tracker.events, 1, None)):
            self._cache.pop(tracker.sender_id, None)
            return
        self._remember(tracker.sender_id, self._newest_event_id(tracker.sender_id), tracker)

    def _publish(self, sender_id: str, serialised: list[dict[str, Any]]) -> None:
        """What Rasa's ``stream_events`` publishes, from the events already serialised."""
        if self.event_broker is None:
            return
        for data in serialised:
            self.event_broker.publish({"sender_id": sender_id, **data})

    def _insert(self, sender_id: str, events: list[Event], serialised: list[dict[str, Any]]) -> Optional[int]:
        """Store the events as Rasa's save does; the id of the last one (None if there are none)."""
        if not events:
            return None
        rows = [_row(sender_id, event, data) for event, data in zip(events, serialised, strict=True)]
        with self.engine.begin() as connection:  # Core, not the ORM: a third of the CPU
            return self._insert_rows(connection, rows)

    def _insert_rows(self, connection: Any, rows: list[dict[str, Any]]) -> int:
        # One executemany of a statement SQLAlchemy compiles once (a multi-row
        # VALUES statement is compiled anew each time: more than its insert).
        table = self.SQLEvent.__table__
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return max(connection.execute(table.insert().returning(table.c.id), rows).scalars())
        connection.execute(table.insert(), rows)
        if dialect == "sqlite":  # this connection's last inserted row
            return connection.execute(sa.text("SELECT last_insert_rowid()")).scalar()
        return connection.execute(self._newest_id_query, {"sender_id": rows[0]["sender_id"]}).scalar()

    def _use_pooled_sqlite_engine(self) -> None:
        """One kept-open connection in WAL mode instead of a new one per query.

        SQLite then commits without waiting for a full disk sync of each
        message; a crash may lose the last message, never corrupt the file.
        """
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
        sa.event.listen(self.engine, "connect", _tune_sqlite_connection)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _use_pinged_engine(self) -> None:
        """Rasa's engine, with each pooled connection checked before use and a connect timeout.

        Without the check, the first queries after the database was away get
        the pool's dead connections and fail; with it, service resumes by
        itself. Rasa's engine for ``login_db`` also loses its pool settings
        (``SQL_POOL_SIZE``, ``SQL_MAX_OVERFLOW``, ``POSTGRESQL_SCHEMA``): back here.
        """
        url = self.engine.url
        self.engine.dispose()
        options = create_engine_kwargs(url)
        connect_args = {**_connect_timeout(url), **options.pop("connect_args", {})}
        self.engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args, **options)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _ensure_schema(self, description: str) -> None:
        """The events table and its index, waiting again if the database went away meanwhile.

        Rasa's start only logs a table it could not create; a store without
        its table would fail every message until restarted.
        """

        def create() -> None:
            try:
                self.Base.metadata.create_all(self.engine)
            except (sa.exc.ProgrammingError, sa.exc.IntegrityError) as error:  # another instance at the same moment
                logger.info(f"Tables not created here ({error.orig}); another instance has them.")
            self._ensure_conversation_index()

        wait_until_reachable(description, create, (sa.exc.OperationalError, sa.exc.InterfaceError))

    def _ensure_conversation_index(self) -> None:
        """An index on (sender_id, id), so the freshness check stays cheap.

        With Rasa's index on sender_id alone, PostgreSQL answers "newest id of
        this conversation" by scanning the primary key backwards until it meets
        the conversation's newest row: the longer ago that row, the more rows it
        reads (a customer coming back after a busy day). Built once; on an
        existing large table the first start-up takes a moment to build it.
        """
        if self.engine.dialect.name not in ("postgresql", "sqlite"):
            return
        table = self.SQLEvent.__tablename__
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.text(f"CREATE INDEX IF NOT EXISTS {CONVERSATION_INDEX} ON {table} (sender_id, id)")
                )
        except (sa.exc.ProgrammingError, sa.exc.IntegrityError) as error:  # another instance at the same moment
            logger.info(f"Index {CONVERSATION_INDEX} not created here ({error.orig}); another instance has it.")

    def _newest_event_id(self, sender_id: str) -> Optional[int]:
        with self.engine.connect() as connection:
            return connection.execute(self._newest_id_query, {"sender_id": sender_id}).scalar()

    def _remember(self, sender_id: str, newest: Optional[int], tracker: Optional[DialogueStateTracker]) -> None:
        if newest is None or tracker is None:
            self._cache.pop(sender_id, None)
            return
        self._cache[sender_id] = _Cached(newest, clone_tracker(tracker))
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _wait_for_database(settings: dict[str, Any]) -> None:
    """Block until the server the store connects to first answers (see bot/stores/waiting.py).

    Rasa would retry every 5 s logging only the driver's error, and once it
    has a store it falls back to memory on any later error.
    """
    if settings.get("dialect", "sqlite") == "sqlite" and not settings.get("host"):
        return  # a file: nothing to wait for
    first_url = sa.engine.make_url(_db_url(settings, settings.get("login_db")))
    probe = sa.create_engine(first_url, poolclass=sa.pool.NullPool, connect_args=_connect_timeout(first_url))

    def connect() -> None:
        with probe.connect():
            pass

    try:
        wait_until_reachable(_describe(settings), connect, (sa.exc.OperationalError, sa.exc.InterfaceError))
    finally:
        probe.dispose()


def _db_url(settings: dict[str, Any], database: Optional[str] = None) -> Any:
    """The URL SQLTrackerStore builds from its endpoint settings (for ``database`` if given)."""
    return SQLTrackerStore.get_db_url(
        settings.get("dialect", "sqlite"),
        settings.get("host"),
        validate_port(settings.get("port")),
        settings.get("db") or "rasa.db",
        settings.get("username"),
        settings.get("password"),
        database,
        settings.get("query"),
    )


def _describe(settings: dict[str, Any]) -> str:
    """``conversation database postgresql host:port/db``: what an operator needs, no password."""
    url = sa.engine.make_url(_db_url(settings))
    if not url.host:
        return f"conversation database {url.get_backend_name()} {url.database}"
    where = f"{url.host}:{url.port}" if url.port else url.host
    return f"conversation database {url.get_backend_name()} {where}/{url.database}"


def _connect_timeout(url: Any) -> dict[str, Any]:
    return {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.get_backend_name() == "postgresql" else {}


def _row(sender_id: str, event: Event, data: dict[str, Any]) -> dict[str, Any]:
    """The columns Rasa's SQLTrackerStore.save writes for an event."""
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


def _tune_sqlite_connection(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _continues(tracker: DialogueStateTracker, cached: DialogueStateTracker) -> bool:
    """Whether ``tracker`` is ``cached`` with events added (clones share event objects)."""
    stored = len(cached.events)
    return 0 < stored <= len(tracker.events) and tracker.events[stored - 1] is cached.events[stored - 1]


def _starts_session(events: Iterable[Event]) -> bool:
    return any(isinstance(event, SessionStarted) for event in events)
