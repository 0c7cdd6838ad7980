"""Tickets (complaints, disputes, handoffs, callbacks, messages) and ratings.

A ticket number such as ``T20261125-0007`` is what the shopper quotes when
they come back or call the hotline, so it is short, readable aloud and never
reused: the date is the service's (Shanghai) date and the sequence restarts
each day. The sequence row of the day is incremented inside the transaction
that inserts the ticket, so numbers stay unique and gap-free also when many
threads or several action servers sharing PostgreSQL create tickets at once.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot import clock
from bot.stores.database import ServiceTime, create_tables
from bot.text import strip_invisible, to_half_width

MAX_TEXT_CHARS = 4000
MAX_AUTHOR_CHARS = 32
MIN_SEQUENCE_DIGITS = 4
_CREATE_ATTEMPTS = 8
_SQLITE_UPSERT_RETURNING = (3, 35, 0)
# PostgreSQL serialization failure and deadlock: safe to run again.
_RETRYABLE_PGCODES = {"40001", "40P01"}


class TicketKind:
    COMPLAINT = "complaint"
    DISPUTE = "dispute"
    LOGISTICS = "logistics"
    HANDOFF = "handoff"
    CALLBACK = "callback"
    MESSAGE = "message"
    ALL = frozenset({COMPLAINT, DISPUTE, LOGISTICS, HANDOFF, CALLBACK, MESSAGE})


class TicketStatus:
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    ALL = frozenset({OPEN, IN_PROGRESS, RESOLVED, CLOSED})


@dataclass(frozen=True)
class Ticket:
    number: str
    kind: str
    sender_id: str
    status: str
    priority: bool
    summary: str
    order_id: Optional[str]
    phone: Optional[str]
    # A dict cannot be hashed; tickets are still hashable by their other fields.
    details: dict[str, Any] = field(hash=False)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Rating:
    id: int
    sender_id: str
    score: int
    ticket_number: Optional[str]
    case: Optional[str]
    created_at: datetime


class TicketMessage(NamedTuple):
    created_at: datetime
    author: str
    text: str


metadata = sa.MetaData()

tickets_table = sa.Table(
    "service_tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(24), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.Boolean, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("order_id", sa.String(64)),
    sa.Column("phone", sa.String(32)),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("created_at", ServiceTime, nullable=False),
    sa.Column("updated_at", ServiceTime, nullable=False),
    sa.Index("ix_service_tickets_sender", "sender_id", "created_at"),
)

sequences_table = sa.Table(
    "service_ticket_sequences",
    metadata,
    sa.Column("day", sa.String(8), primary_key=True),
    sa.Column("last_value", sa.Integer, nullable=False),
)

messages_table = sa.Table(
    "service_ticket_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "ticket_number",
        sa.String(24),
        sa.ForeignKey("service_tickets.number", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("author", sa.String(MAX_AUTHOR_CHARS), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", ServiceTime, nullable=False),
)

ratings_table = sa.Table(
    "service_ratings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("score", sa.SmallInteger, nullable=False),
    sa.Column("ticket_number", sa.String(24)),
    # "case" is an SQL keyword; the column gets a name that needs no quoting.
    sa.Column("service_case", sa.String(64)),
    sa.Column("created_at", ServiceTime, nullable=False),
    sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_service_ratings_score"),
)

# Atomic in PostgreSQL and SQLite >= 3.35: concurrent callers queue on the
# day's row and each gets the next value; a rolled-back ticket takes its
# number back with it, so no number is ever handed out twice.
_NEXT_SEQUENCE = sa.text(
    "INSERT INTO service_ticket_sequences (day, last_value) VALUES (:day, 1) "
    "ON CONFLICT (day) DO UPDATE "
    "SET last_value = service_ticket_sequences.last_value + 1 "
    "RETURNING last_value"
)

_SEPARATORS = r"[\s\-‐‑‒–—―_.]*"
_NUMBER_BODY = rf"(?P<day>\d{{8}}){_SEPARATORS}(?P<sequence>\d{{1,6}})(?!\d)"
_NUMBER_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9])T{_SEPARATORS}{_NUMBER_BODY}", re.IGNORECASE)
_NUMBER_ALONE = re.compile(rf"\s*(?:T{_SEPARATORS})?{_NUMBER_BODY}\s*", re.IGNORECASE)


def format_ticket_number(day: str, sequence: int) -> str:
    return f"T{day}-{sequence:0{MIN_SEQUENCE_DIGITS}d}"


def canonical_ticket_number(text: str) -> Optional[str]:
    """``text`` as a canonical number if it is one, written however sloppily."""
    match = _NUMBER_ALONE.fullmatch(_plain(text or ""))
    return _canonical(match) if match else None


def parse_ticket_number(text: str) -> Optional[str]:
    """The first ticket number in a message, canonical (``T20261125-0007``)."""
    for match in _NUMBER_IN_TEXT.finditer(_plain(text or "")):
        number = _canonical(match)
        if number:
            return number
    return None


def _plain(text: str) -> str:
    # Shoppers type full-width letters and digits (Ｔ２０２６…) and paste
    # numbers with zero-width characters in them.
    return strip_invisible(to_half_width(text))


def _canonical(match: re.Match[str]) -> Optional[str]:
    day, sequence = match.group("day"), int(match.group("sequence"))
    if sequence < 1 or not _is_date(day):
        return None
    return format_ticket_number(day, sequence)


def _is_date(day: str) -> bool:
    try:
        datetime.strptime(day, "%Y%m%d")
    except ValueError:
        return False
    return True


class TicketStore:
    """Tickets, their messages and the shoppers' ratings, in SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        create_tables(engine, metadata)

    def create(
        self,
        kind: str,
        sender_id: str,
        summary: str,
        *,
        order_id: Optional[str] = None,
        priority: bool = False,
        phone: Optional[str] = None,
        details: Optional[Mapping[str, Any]] = None,
        now: Optional[datetime] = None,
    ) -> Ticket:
        """Open a ticket and give it the next number of the (Shanghai) day."""
        if kind not in TicketKind.ALL:
            raise ValueError(f"unknown ticket kind {kind!r}; expected one of {sorted(TicketKind.ALL)}")
        moment = _moment(now)
        row = {
            "kind": kind,
            "sender_id": sender_id,
            "status": TicketStatus.OPEN,
            "priority": bool(priority),
            "summary": _clean_text(summary),
            "order_id": _clean_optional(order_id),
            "phone": _clean_optional(phone),
            "details": _details_json(details),
            "created_at": moment,
            "updated_at": moment,
        }
        number = self._insert_numbered(row, moment)
        return ticket_from_row({**row, "number": number})

    def get(self, number: str) -> Optional[Ticket]:
        canonical = canonical_ticket_number(number)
        if canonical is None:
            return None
        with self._engine.connect() as connection:
            return _select_ticket(connection, canonical)

    def for_sender(self, sender_id: str, limit: int = 5) -> list[Ticket]:
        """The sender's most recent tickets, newest first."""
        query = (
            sa.select(tickets_table)
            .where(tickets_table.c.sender_id == sender_id)
            .order_by(tickets_table.c.created_at.desc(), tickets_table.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [ticket_from_row(row) for row in connection.execute(query).mappings()]

    def set_status(self, number: str, status: str, now: Optional[datetime] = None) -> Optional[Ticket]:
        if status not in TicketStatus.ALL:
            raise ValueError(f"unknown ticket status {status!r}; expected one of {sorted(TicketStatus.ALL)}")
        return self._update(number, {"status": status}, now)

    def set_phone(self, number: str, phone: str, now: Optional[datetime] = None) -> Optional[Ticket]:
        return self._update(number, {"phone": _clean_optional(phone)}, now)

    def add_message(self, number: str, text: str, author: str = "user", now: Optional[datetime] = None) -> bool:
        """Append a message for the agent; False when there is no such ticket."""
        canonical = canonical_ticket_number(number)
        if canonical is None:
            return False
        moment = _moment(now)
        with self._engine.begin() as connection:
            if not _touch(connection, canonical, {}, moment):
                return False
            connection.execute(
                messages_table.insert().values(
                    ticket_number=canonical,
                    author=(author or "user")[:MAX_AUTHOR_CHARS],
                    text=_clean_text(text),
                    created_at=moment,
                )
            )
        return True

    def messages(self, number: str) -> list[TicketMessage]:
        """The ticket's messages, oldest first."""
        canonical = canonical_ticket_number(number)
        if canonical is None:
            return []
        query = (
            sa.select(messages_table.c.created_at, messages_table.c.author, messages_table.c.text)
            .where(messages_table.c.ticket_number == canonical)
            .order_by(messages_table.c.created_at, messages_table.c.id)
        )
        with self._engine.connect() as connection:
            return [TicketMessage(*row) for row in connection.execute(query)]

    def add_rating(
        self,
        sender_id: str,
        score: int,
        *,
        ticket_number: Optional[str] = None,
        case: Optional[str] = None,
        now: Optional[datetime] = None,
    ) -> Rating:
        """Record a satisfaction score (1-5) for a ticket or a handled case."""
        row = {
            "sender_id": sender_id,
            "score": _valid_score(score),
            "ticket_number": _rated_ticket(ticket_number),
            "service_case": _clean_optional(case),
            "created_at": _moment(now),
        }
        with self._engine.begin() as connection:
            rating_id = connection.execute(ratings_table.insert().values(**row)).inserted_primary_key[0]
        return _rating_from_row({**row, "id": rating_id})

    def ratings_for(self, sender_id: str) -> list[Rating]:
        """The sender's ratings, newest first."""
        query = (
            sa.select(ratings_table)
            .where(ratings_table.c.sender_id == sender_id)
            .order_by(ratings_table.c.created_at.desc(), ratings_table.c.id.desc())
        )
        with self._engine.connect() as connection:
            return [_rating_from_row(row) for row in connection.execute(query).mappings()]

    def _insert_numbered(self, row: dict[str, Any], moment: datetime) -> str:
        attempt = 1
        while True:
            try:
                return self._insert_once(row, moment)
            except sa.exc.OperationalError as error:
                if attempt >= _CREATE_ATTEMPTS or not _is_retryable(error):
                    raise
                _back_off(attempt)
                attempt += 1

    def _insert_once(self, row: dict[str, Any], moment: datetime) -> str:
        day = _day(moment)
        with self._engine.begin() as connection:
            number = format_ticket_number(day, _next_sequence(connection, day))
            connection.execute(tickets_table.insert().values(number=number, **row))
        return number

    def _update(self, number: str, values: dict[str, Any], now: Optional[datetime]) -> Optional[Ticket]:
        canonical = canonical_ticket_number(number)
        if canonical is None:
            return None
        with self._engine.begin() as connection:
            if not _touch(connection, canonical, values, _moment(now)):
                return None
            return _select_ticket(connection, canonical)


def _next_sequence(connection: Connection, day: str) -> int:
    if _has_upsert_returning(connection):
        return connection.execute(_NEXT_SEQUENCE, {"day": day}).scalar_one()
    return _next_sequence_in_steps(connection, day)


def _has_upsert_returning(connection: Connection) -> bool:
    if connection.dialect.name == "sqlite":
        return sqlite3.sqlite_version_info >= _SQLITE_UPSERT_RETURNING
    return connection.dialect.name == "postgresql"


def _next_sequence_in_steps(connection: Connection, day: str) -> int:
    """For older SQLite: the UPDATE takes the write lock, so this is atomic too."""
    row = sequences_table.c
    bumped = connection.execute(sequences_table.update().where(row.day == day).values(last_value=row.last_value + 1))
    if bumped.rowcount == 0:
        connection.execute(sequences_table.insert().values(day=day, last_value=1))
    return connection.execute(sa.select(row.last_value).where(row.day == day)).scalar_one()


def _touch(connection: Connection, number: str, values: dict[str, Any], moment: datetime) -> bool:
    result = connection.execute(
        tickets_table.update().where(tickets_table.c.number == number).values(updated_at=moment, **values)
    )
    return result.rowcount > 0


def _select_ticket(connection: Connection, number: str) -> Optional[Ticket]:
    query = sa.select(tickets_table).where(tickets_table.c.number == number)
    row = connection.execute(query).mappings().first()
    return ticket_from_row(row) if row else None


def ticket_from_row(row: Mapping[str, Any]) -> Ticket:
    """A ticket from a row of its table (also a row joined with more columns)."""
    return Ticket(
        number=row["number"],
        kind=row["kind"],
        sender_id=row["sender_id"],
        status=row["status"],
        priority=bool(row["priority"]),
        summary=row["summary"],
        order_id=row["order_id"],
        phone=row["phone"],
        details=json.loads(row["details"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _rating_from_row(row: Mapping[str, Any]) -> Rating:
    return Rating(
        id=row["id"],
        sender_id=row["sender_id"],
        score=row["score"],
        ticket_number=row["ticket_number"],
        case=row["service_case"],
        created_at=row["created_at"],
    )


def _moment(now: Optional[datetime]) -> datetime:
    return clock.in_service_zone(now) if now is not None else clock.now()


def _day(moment: datetime) -> str:
    return clock.in_service_zone(moment).strftime("%Y%m%d")


def _clean_text(text: Optional[str]) -> str:
    return (text or "").strip()[:MAX_TEXT_CHARS]


def _clean_optional(text: Optional[str]) -> Optional[str]:
    cleaned = to_half_width(text).strip() if text else ""
    return cleaned or None


def _details_json(details: Optional[Mapping[str, Any]]) -> str:
    # ensure_ascii=False keeps Chinese readable for whoever queries the table;
    # values JSON cannot hold (Decimal, datetime) are kept as their text.
    return json.dumps(dict(details or {}), ensure_ascii=False, default=str)


def _valid_score(score: Any) -> int:
    # Slots may hold the score as text ("5"); str() also turns True into
    # "True", so a boolean is refused rather than read as 1.
    try:
        value = int(str(score).strip())
    except ValueError:
        raise ValueError(f"a rating is a whole number from 1 to 5, not {score!r}") from None
    if not 1 <= value <= 5:
        raise ValueError(f"a rating is a whole number from 1 to 5, not {score!r}")
    return value


def _rated_ticket(ticket_number: Optional[str]) -> Optional[str]:
    if not ticket_number:
        return None
    canonical = canonical_ticket_number(ticket_number)
    if canonical is None:
        raise ValueError(f"not a ticket number: {ticket_number!r}")
    return canonical


def _is_retryable(error: sa.exc.OperationalError) -> bool:
    """Lock and serialisation conflicts, not lost connections.

    After a lost connection the ticket may have been committed; creating it
    again would give the shopper two tickets.
    """
    if getattr(error.orig, "pgcode", None) in _RETRYABLE_PGCODES:
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "database is busy" in message


def _back_off(attempt: int) -> None:
    # Jitter keeps processes that collided from colliding again in step.
    time.sleep(random.uniform(0, 0.05 * attempt))
