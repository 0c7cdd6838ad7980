"""An SQL tracker store that keeps recent conversations in memory.

Rasa's SQLTrackerStore reads and deserialises every event of the session on
each message, so a long conversation gets slower with every turn. This store
keeps the trackers it saved or loaded and checks them against the database
with one indexed query (the newest event id of the conversation): if another
process wrote to the conversation, only the events newer than the kept
tracker's are read and applied to it (the lock store lets one process at a
time write a conversation, so they arrive in order), unless they start a new
session, which is read whole. Configure it in endpoints.yml with
``type: bot.stores.tracker_store.CachingSQLTrackerStore``.
"""
from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Text

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_fixes import clone_tracker

DEFAULT_CACHE_SIZE = 2000


@dataclass
class _Cached:
    newest_event_id: int
    tracker: DialogueStateTracker


class CachingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore with a validated in-process cache of trackers."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker=event_broker, **kwargs)
        if self.engine.dialect.name == "sqlite":
            self._use_pooled_sqlite_engine()
        self._cache: "OrderedDict[Text, _Cached]" = OrderedDict()
        self._cache_size = int(cache_size)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
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

    def _caught_up(self, cached: _Cached, sender_id: Text, newest: int) -> Optional[DialogueStateTracker]:
        """The kept tracker with the events another process stored since; None to read it whole."""
        with self.session_scope() as session:
            rows = session.query(self.SQLEvent.data).filter(
                self.SQLEvent.sender_id == sender_id,
                self.SQLEvent.id > cached.newest_event_id,
                self.SQLEvent.id <= newest,
            ).order_by(self.SQLEvent.id).all()
        events = deserialise_events([json.loads(row.data) for row in rows])
        if len(events) != len(rows) or _starts_session(events):
            return None
        tracker = clone_tracker(cached.tracker)
        for event in events:
            tracker.update(event)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        cached = self._cache.get(tracker.sender_id)
        already_checked = len(cached.tracker.events) if cached else 1
        await super().save(tracker)
        # A tracker holding the end of one session and the start of the next
        # differs from what the database returns (the new session only).
        if _starts_session(itertools.islice(tracker.events, max(already_checked, 1), None)):
            self._cache.pop(tracker.sender_id, None)
            return
        self._remember(tracker.sender_id, self._newest_event_id(tracker.sender_id), tracker)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """New events by what the cache knows is stored, without counting rows.

        The cache was checked against the database when the tracker was
        retrieved; the lock store keeps other processes from writing the
        conversation until this save is done (Rasa's own row count relies on
        that too), so there is no need to ask again.
        """
        cached = self._cache.get(tracker.sender_id)
        if cached is not None and _continues(tracker, cached.tracker):
            stored = len(cached.tracker.events)
            return itertools.islice(tracker.events, stored, len(tracker.events))
        return super()._additional_events(session, tracker)

    def _use_pooled_sqlite_engine(self) -> None:
        """One kept-open connection in WAL mode instead of a new one per query.

        SQLite then commits without waiting for a full disk sync of each
        message; a crash may lose the last message, never corrupt the file.
        """
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(
            url, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False}
        )
        sa.event.listen(self.engine, "connect", _tune_sqlite_connection)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _newest_event_id(self, sender_id: Text) -> Optional[int]:
        with self.session_scope() as session:
            return session.query(sa.func.max(self.SQLEvent.id)).filter(
                self.SQLEvent.sender_id == sender_id
            ).scalar()

    def _remember(
        self, sender_id: Text, newest: Optional[int], tracker: Optional[DialogueStateTracker]
    ) -> None:
        if newest is None or tracker is None:
            self._cache.pop(sender_id, None)
            return
        self._cache[sender_id] = _Cached(newest, clone_tracker(tracker))
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


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
