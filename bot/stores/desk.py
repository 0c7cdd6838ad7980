"""The agent desk's data: who holds which handed-off conversation, notices sent, agents' sessions.

A conversation handed to a person is a ticket (handoff, or leave-a-message
off hours) in bot/stores/tickets.py; the desk adds to it:

- **assignments**: which agent holds the ticket's conversation, from when to
  when, and why it ended (closed, transferred, the user went back to the bot).
  A claim moves the ticket from ``open`` to ``in_progress`` with one
  conditional UPDATE in the same transaction as the assignment: two agents
  (or two desk processes) claiming at once, exactly one UPDATE matches, in
  PostgreSQL and SQLite alike. The database decides, never a process's memory.
- **notices**: what the desk told the user once per ticket (the queue timeout)
  and what the user did (went back to the bot), so several desk processes
  tell each user once.
- **sessions**: an agent's login, stored by the hash of its cookie, so a
  stolen database holds no usable cookie and any desk process reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot import clock
from bot.stores.database import ServiceTime, create_tables
from bot.stores.tickets import (
    Ticket,
    TicketKind,
    TicketStatus,
    canonical_ticket_number,
    messages_table,
    ticket_from_row,
    tickets_table,
)
from bot.stores.tickets import metadata as tickets_metadata

# The tickets whose conversation a person takes over live.
QUEUE_KINDS = (TicketKind.HANDOFF, TicketKind.MESSAGE)
MAX_ID_CHARS = 64
QUEUE_LIMIT = 200


# The desk's own tables: the ticket store (and its tests) go on without them.
metadata = sa.MetaData()


class EndReason:
    CLOSED = "closed"  # the agent handed the conversation back to the bot
    TRANSFERRED = "transferred"  # to another agent, who holds it now
    USER_RESUMED = "user_resumed"  # the user said 「回到机器人」
    RELEASED = "released"  # the claim could not reach the user and was undone


assignments_table = sa.Table(
    "desk_assignments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "ticket_number",
        sa.String(24),
        sa.ForeignKey(tickets_table.c.number, ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("agent_id", sa.String(MAX_ID_CHARS), nullable=False, index=True),
    sa.Column("started_at", ServiceTime, nullable=False),
    sa.Column("ended_at", ServiceTime),
    sa.Column("end_reason", sa.String(16)),
)

notices_table = sa.Table(
    "desk_notices",
    metadata,
    sa.Column(
        "ticket_number",
        sa.String(24),
        sa.ForeignKey(tickets_table.c.number, ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("created_at", ServiceTime, nullable=False),
)

sessions_table = sa.Table(
    "desk_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("agent_id", sa.String(MAX_ID_CHARS), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", ServiceTime, nullable=False),
    sa.Column("expires_at", ServiceTime, nullable=False, index=True),
)


@dataclass(frozen=True)
class Assignment:
    ticket_number: str
    agent_id: str
    started_at: datetime
    ended_at: Optional[datetime] = None
    end_reason: Optional[str] = None


@dataclass(frozen=True)
class StoredMessage:
    """A ticket message with its id: ids grow, so a reader can ask for what came after."""

    id: int
    ticket_number: str
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Session:
    agent_id: str
    csrf_token: str
    expires_at: datetime


class DeskStore:
    """Assignments, notices and sessions of the agent desk, beside the tickets they belong to."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # The tickets first: the desk's tables refer to them.
        create_tables(engine, tickets_metadata)
        create_tables(engine, metadata)

    # --- the queue and the conversations held --------------------------------

    def queue(self, limit: int = QUEUE_LIMIT) -> list[Ticket]:
        """Handed-off tickets nobody holds yet: priority first, then the longest waiting."""
        rows = tickets_table.c
        query = (
            sa.select(tickets_table)
            .where(rows.kind.in_(QUEUE_KINDS), rows.status == TicketStatus.OPEN)
            .order_by(rows.priority.desc(), rows.created_at, rows.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [ticket_from_row(row) for row in connection.execute(query).mappings()]

    def claim(self, number: str, agent_id: str, now: Optional[datetime] = None) -> bool:
        """Give the open ticket's conversation to ``agent_id``; False when someone else was first."""
        canonical = canonical_ticket_number(number)
        if canonical is None:
            return False
        moment = _moment(now)
        rows = tickets_table.c
        with self._engine.begin() as connection:
            taken = connection.execute(
                tickets_table.update()
                .where(rows.number == canonical, rows.kind.in_(QUEUE_KINDS), rows.status == TicketStatus.OPEN)
                .values(status=TicketStatus.IN_PROGRESS, updated_at=moment)
            )
            if taken.rowcount != 1:
                return False
            connection.execute(
                assignments_table.insert().values(ticket_number=canonical, agent_id=agent_id, started_at=moment)
            )
        return True

    def holder(self, number: str) -> Optional[Assignment]:
        """The assignment of whoever holds the ticket's conversation now, if anyone."""
        canonical = canonical_ticket_number(number) or ""
        rows = assignments_table.c
        query = sa.select(assignments_table).where(rows.ticket_number == canonical, rows.ended_at.is_(None))
        with self._engine.connect() as connection:
            row = connection.execute(query.order_by(rows.id.desc())).mappings().first()
        return _assignment(row) if row else None

    def held_by(self, agent_id: str) -> list[tuple[Assignment, Ticket]]:
        """The conversations ``agent_id`` holds, the longest held first."""
        rows = assignments_table.c
        query = (
            sa.select(tickets_table, rows.agent_id, rows.started_at)
            .join(assignments_table, tickets_table.c.number == rows.ticket_number)
            .where(rows.agent_id == agent_id, rows.ended_at.is_(None))
            .order_by(rows.started_at, rows.id)
        )
        with self._engine.connect() as connection:
            return [
                (Assignment(row["number"], row["agent_id"], row["started_at"]), ticket_from_row(row))
                for row in connection.execute(query).mappings()
            ]

    def assignments(self, number: str) -> list[Assignment]:
        """Every agent who held the ticket's conversation, in order."""
        canonical = canonical_ticket_number(number) or ""
        rows = assignments_table.c
        query = sa.select(assignments_table).where(rows.ticket_number == canonical).order_by(rows.id)
        with self._engine.connect() as connection:
            return [_assignment(row) for row in connection.execute(query).mappings()]

    def finish(
        self,
        number: str,
        reason: str,
        status: str,
        agent_id: Optional[str] = None,
        now: Optional[datetime] = None,
    ) -> Optional[Assignment]:
        """End the current holder's assignment (only ``agent_id``'s, if given) and set the ticket's status.

        None when nobody (or somebody else) holds it: the caller lost a race.
        """
        canonical = canonical_ticket_number(number) or ""
        moment = _moment(now)
        rows = assignments_table.c
        condition = [rows.ticket_number == canonical, rows.ended_at.is_(None)]
        if agent_id is not None:
            condition.append(rows.agent_id == agent_id)
        with self._engine.begin() as connection:
            current = connection.execute(sa.select(assignments_table).where(*condition)).mappings().first()
            if current is None:
                return None
            ended = connection.execute(
                assignments_table.update()
                .where(rows.id == current["id"], rows.ended_at.is_(None))
                .values(ended_at=moment, end_reason=reason)
            )
            if ended.rowcount != 1:
                return None
            connection.execute(
                tickets_table.update()
                .where(tickets_table.c.number == canonical)
                .values(status=status, updated_at=moment)
            )
        return _assignment({**current, "ended_at": moment, "end_reason": reason})

    def transfer(self, number: str, from_agent: str, to_agent: str, now: Optional[datetime] = None) -> bool:
        """Hand the conversation ``from_agent`` holds to ``to_agent``; False if ``from_agent`` does not hold it."""
        canonical = canonical_ticket_number(number) or ""
        moment = _moment(now)
        rows = assignments_table.c
        with self._engine.begin() as connection:
            ended = connection.execute(
                assignments_table.update()
                .where(rows.ticket_number == canonical, rows.agent_id == from_agent, rows.ended_at.is_(None))
                .values(ended_at=moment, end_reason=EndReason.TRANSFERRED)
            )
            if ended.rowcount != 1:
                return False
            connection.execute(
                assignments_table.insert().values(ticket_number=canonical, agent_id=to_agent, started_at=moment)
            )
        return True

    def release(self, number: str, agent_id: str, now: Optional[datetime] = None) -> bool:
        """Undo ``agent_id``'s claim: the ticket is open (back in the queue) again."""
        return self.finish(number, EndReason.RELEASED, TicketStatus.OPEN, agent_id, now) is not None

    # --- messages -----------------------------------------------------------------

    def messages(self, numbers: Iterable[str], after_id: int = 0) -> list[StoredMessage]:
        """The tickets' messages with an id above ``after_id``, oldest first."""
        wanted = [canonical for canonical in map(canonical_ticket_number, numbers) if canonical]
        if not wanted:
            return []
        rows = messages_table.c
        query = (
            sa.select(rows.id, rows.ticket_number, rows.author, rows.text, rows.created_at)
            .where(rows.ticket_number.in_(wanted), rows.id > after_id)
            .order_by(rows.id)
        )
        with self._engine.connect() as connection:
            return [StoredMessage(*row) for row in connection.execute(query)]

    # --- notices ----------------------------------------------------------------------

    def add_notice(self, number: str, kind: str, now: Optional[datetime] = None) -> bool:
        """Record that ``kind`` happened to the ticket; False if it already had (another process was first)."""
        canonical = canonical_ticket_number(number)
        if canonical is None:
            return False
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    notices_table.insert().values(ticket_number=canonical, kind=kind, created_at=_moment(now))
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def remove_notice(self, number: str, kind: str) -> None:
        rows = notices_table.c
        with self._engine.begin() as connection:
            connection.execute(
                notices_table.delete().where(
                    rows.ticket_number == (canonical_ticket_number(number) or ""), rows.kind == kind
                )
            )

    def notices(self, numbers: Iterable[str]) -> dict[str, set[str]]:
        """The notice kinds of each ticket that has any."""
        wanted = [canonical for canonical in map(canonical_ticket_number, numbers) if canonical]
        found: dict[str, set[str]] = {}
        if not wanted:
            return found
        rows = notices_table.c
        query = sa.select(rows.ticket_number, rows.kind).where(rows.ticket_number.in_(wanted))
        with self._engine.connect() as connection:
            for number, kind in connection.execute(query):
                found.setdefault(number, set()).add(kind)
        return found

    def waiting_since(self, older_than: datetime, kinds: Iterable[str], without: Iterable[str]) -> list[Ticket]:
        """Open tickets of ``kinds`` created before ``older_than`` that have none of the notices ``without``."""
        rows = tickets_table.c
        noticed = sa.select(notices_table.c.ticket_number).where(notices_table.c.kind.in_(list(without)))
        query = (
            sa.select(tickets_table)
            .where(
                rows.kind.in_(list(kinds)),
                rows.status == TicketStatus.OPEN,
                rows.created_at <= older_than,
                rows.number.not_in(noticed),
            )
            .order_by(rows.created_at, rows.id)
            .limit(QUEUE_LIMIT)
        )
        with self._engine.connect() as connection:
            return [ticket_from_row(row) for row in connection.execute(query).mappings()]

    # --- sessions ---------------------------------------------------------------------

    def create_session(self, token_hash: str, agent_id: str, csrf_token: str, expires_at: datetime) -> None:
        moment = clock.now()
        with self._engine.begin() as connection:
            connection.execute(sessions_table.delete().where(sessions_table.c.expires_at <= moment))
            connection.execute(
                sessions_table.insert().values(
                    token_hash=token_hash,
                    agent_id=agent_id,
                    csrf_token=csrf_token,
                    created_at=moment,
                    expires_at=expires_at,
                )
            )

    def session(self, token_hash: str, now: Optional[datetime] = None) -> Optional[Session]:
        """The live session of this cookie's hash, if it has not expired."""
        rows = sessions_table.c
        query = sa.select(rows.agent_id, rows.csrf_token, rows.expires_at).where(
            rows.token_hash == token_hash, rows.expires_at > _moment(now)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return Session(*row) if row else None

    def delete_session(self, token_hash: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(sessions_table.delete().where(sessions_table.c.token_hash == token_hash))


def _assignment(row: object) -> Assignment:
    values = dict(row)  # type: ignore[call-overload]
    return Assignment(
        ticket_number=values["ticket_number"],
        agent_id=values["agent_id"],
        started_at=values["started_at"],
        ended_at=values.get("ended_at"),
        end_reason=values.get("end_reason"),
    )


def _moment(now: Optional[datetime]) -> datetime:
    return clock.in_service_zone(now) if now is not None else clock.now()
