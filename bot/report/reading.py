"""The stores as plain records, read in pages with a progress bar.

Tracker events come from the ``events`` table of Rasa's SQLTrackerStore (the
one our CachingSQLTrackerStore writes); tickets and ratings through the
SQLAlchemy tables of bot/stores/tickets.py. Nothing is written: a missing
SQLite file or table reads as an empty store, it is not created.

Pages are keyset pages (``id > last id seen``), so a large store is neither
loaded at once nor scanned again for every page as OFFSET would.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# The entity the NLU (FrustrationDetector) puts on a frustrated user message;
# its value is the cue's kind (insult, threat, impatience, exasperation).
from bot.frustration import ENTITY as FRUSTRATION_ENTITY
from bot.report.period import Period
from bot.report.sources import printable_url, sqlite_file
from bot.stores.tickets import ratings_table, tickets_table

PAGE_SIZE = 5000
HANDOFF_SLOT = "handoff_ticket"
# The metadata key of the bot messages the agent desk sends (bot/services/desk.py).
DESK_METADATA = "desk"
# The only event types the figures look at; the others (featurization,
# active_loop, form, ...) are left in the database.
USED_EVENT_TYPES = ("user", "action", "bot", "slot", "session_started", "restart")

# Mirror of rasa.core.tracker_store.SQLTrackerStore.SQLEvent (Rasa 3.6), so the
# report does not import Rasa; tests/bot/report checks the two agree.
events_table = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


class StoreUnavailable(Exception):
    """A store that exists (or should) but cannot be read."""


@dataclass(frozen=True)
class StoredEvent:
    sender_id: str
    type_name: str
    timestamp: float
    # The intent of a user message, the action of an action, the slot's name.
    name: Optional[str] = None
    text: Optional[str] = None  # a bot message
    value: Any = None  # a slot's value
    frustration: tuple[str, ...] = ()  # a user message's frustration cues (entity values)
    # A bot message the agent desk sent: what it was (joined, reply, closed, ...) and the agent's id.
    desk: Optional[str] = None
    agent: Optional[str] = None


@dataclass(frozen=True)
class TicketRecord:
    number: str
    kind: str
    sender_id: str
    status: str
    priority: bool
    created_at: datetime


@dataclass(frozen=True)
class RatingRecord:
    score: int
    case: Optional[str]
    created_at: datetime


def open_store(url: str) -> Optional[Engine]:
    """An engine for ``url``; None for an SQLite file that does not exist yet."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None
    return sa.create_engine(url, future=True)


def read_events(engine: Optional[Engine], period: Period, page_size: int = PAGE_SIZE) -> Iterator[StoredEvent]:
    """Every used event of the senders active in ``period``, in the order written.

    A sender's whole history is read, not only the period: conversations are
    cut at session starts and the handoff slot carries over between sessions.
    """
    if not _has_table(engine, events_table.name):
        return
    rows = events_table.c
    query = sa.select(
        rows.id,
        rows.sender_id,
        rows.type_name,
        rows.timestamp,
        rows.intent_name,
        rows.action_name,
        # JSON is only needed for bot texts, the handoff slot's value and the
        # entities of user messages that may be frustrated (most are not).
        sa.case(
            (rows.type_name.in_(("bot", "slot")), rows.data),
            (sa.and_(rows.type_name == "user", rows.data.like(f'%"{FRUSTRATION_ENTITY}"%')), rows.data),
            else_=sa.null(),
        ).label("data"),
    ).where(
        rows.type_name.in_(USED_EVENT_TYPES),
        sa.or_(rows.type_name != "slot", rows.action_name == HANDOFF_SLOT),
        rows.timestamp.isnot(None),
    )
    active = _senders_active_in(period)
    if active is not None:
        query = query.where(rows.sender_id.in_(active))
    for row in _read_in_pages(engine, query, rows.id, "对话事件 events", page_size):
        yield _event_from_row(row)


def read_tickets(engine: Optional[Engine], period: Period, page_size: int = PAGE_SIZE) -> list[TicketRecord]:
    """Tickets created from the period's start on (later ones can belong to its last conversations)."""
    if not _has_table(engine, tickets_table.name):
        return []
    rows = tickets_table.c
    query = sa.select(rows.id, rows.number, rows.kind, rows.sender_id, rows.status, rows.priority, rows.created_at)
    if period.start is not None:
        query = query.where(rows.created_at >= period.start)
    return [
        TicketRecord(row.number, row.kind, row.sender_id, row.status, bool(row.priority), row.created_at)
        for row in _read_in_pages(engine, query, rows.id, "工单 tickets", page_size)
    ]


def read_ratings(engine: Optional[Engine], period: Period, page_size: int = PAGE_SIZE) -> list[RatingRecord]:
    if not _has_table(engine, ratings_table.name):
        return []
    rows = ratings_table.c
    query = sa.select(rows.id, rows.score, rows.service_case, rows.created_at)
    if period.start is not None:
        query = query.where(rows.created_at >= period.start)
    if period.end is not None:
        query = query.where(rows.created_at < period.end)
    return [
        RatingRecord(int(row.score), row.service_case, row.created_at)
        for row in _read_in_pages(engine, query, rows.id, "评价 ratings", page_size)
    ]


def _senders_active_in(period: Period) -> Optional[sa.sql.Select]:
    rows = events_table.c
    conditions = []
    if period.start is not None:
        conditions.append(rows.timestamp >= period.start.timestamp())
    if period.end is not None:
        conditions.append(rows.timestamp < period.end.timestamp())
    if not conditions:
        return None
    return sa.select(rows.sender_id).where(*conditions).distinct()


def _read_in_pages(
    engine: Engine, query: sa.sql.Select, id_column: sa.Column, label: str, page_size: int
) -> Iterator[Any]:
    with _connected(engine) as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
        last_id = None
        with progress_bar(total, label) as bar:
            while True:
                page = query.order_by(id_column).limit(page_size)
                if last_id is not None:
                    page = page.where(id_column > last_id)
                rows = connection.execute(page).all()
                if not rows:
                    return
                yield from rows
                bar.update(len(rows))
                last_id = rows[-1].id


@contextlib.contextmanager
def _connected(engine: Engine) -> Iterator[Connection]:
    """A connection whose failure names the store instead of a driver traceback."""
    try:
        connection = engine.connect()
    except sa.exc.DBAPIError as error:
        raise StoreUnavailable(_unreadable(engine, error)) from error
    with connection:
        yield connection


def _has_table(engine: Optional[Engine], name: str) -> bool:
    if engine is None:
        return False
    try:
        return sa.inspect(engine).has_table(name)
    except sa.exc.DBAPIError as error:
        raise StoreUnavailable(_unreadable(engine, error)) from error


def _unreadable(engine: Engine, error: sa.exc.DBAPIError) -> str:
    reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return f"cannot read {printable_url(str(engine.url))}: {reason}"


def frustration_cues(parse_data: Any) -> tuple[str, ...]:
    """The values of the ``frustration`` entities of a user message's parse data."""
    entities = parse_data.get("entities") if isinstance(parse_data, dict) else None
    return tuple(
        str(entity.get("value") or "")
        for entity in entities or ()
        if isinstance(entity, dict) and entity.get("entity") == FRUSTRATION_ENTITY
    )


def _event_from_row(row: Any) -> StoredEvent:
    data = json.loads(row.data) if row.data else {}
    if row.type_name == "user":
        return StoredEvent(
            row.sender_id,
            "user",
            row.timestamp,
            name=row.intent_name,
            frustration=frustration_cues(data.get("parse_data")),
        )
    if row.type_name == "action":
        return StoredEvent(row.sender_id, "action", row.timestamp, name=row.action_name)
    if row.type_name == "bot":
        desk = (data.get("metadata") or {}).get(DESK_METADATA) or {}
        return StoredEvent(
            row.sender_id, "bot", row.timestamp, text=data.get("text"), desk=desk.get("kind"), agent=desk.get("agent")
        )
    if row.type_name == "slot":
        return StoredEvent(row.sender_id, "slot", row.timestamp, name=row.action_name, value=data.get("value"))
    return StoredEvent(row.sender_id, row.type_name, row.timestamp)


# --- progress -------------------------------------------------------------------


def progress_bar(total: int, label: str) -> Any:
    """tqdm when installed (hidden when stderr is not a terminal), else a counter."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _StderrCounter(total, label)
    return tqdm(total=total, desc=label, unit=" rows", disable=None, file=sys.stderr, leave=False)


class _StderrCounter:
    def __init__(self, total: int, label: str) -> None:
        self._total, self._label, self._done = total, label, 0
        # Like tqdm: no carriage-return noise in logs and pipes.
        self._shown = sys.stderr.isatty()

    def _write(self, text: str) -> None:
        if self._shown:
            sys.stderr.write(text)
            sys.stderr.flush()

    def __enter__(self) -> _StderrCounter:
        return self

    def update(self, count: int) -> None:
        self._done += count
        self._write(f"\r{self._label}: {self._done}/{self._total}")

    def __exit__(self, *exc_info: Any) -> None:
        if self._done:
            self._write("\n")
