"""Service-hours clock in the service's time zone, injectable for tests.

Set ``BOT_NOW`` (ISO 8601, e.g. ``2026-11-25T02:30:00+08:00``) to pin the time
of a whole process (``rasa test``, demos), or use :func:`frozen_at` in pytest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import datetime, time
from typing import Optional
from zoneinfo import ZoneInfo

from bot import knowledge

Clock = Callable[[], datetime]


def service_timezone() -> ZoneInfo:
    return ZoneInfo(knowledge.load("facts")["service_hours"]["timezone"])


def _system_clock() -> datetime:
    pinned = os.environ.get("BOT_NOW")
    if pinned:
        # Python 3.10 does not read a trailing "Z"; a time without an offset
        # means the service's local time, whatever the machine's zone.
        return datetime.fromisoformat(pinned.strip().replace("Z", "+00:00"))
    return datetime.now(service_timezone())


_clock: Clock = _system_clock


def now() -> datetime:
    """The current time in the service's time zone."""
    return in_service_zone(_clock())


def in_service_zone(moment: datetime) -> datetime:
    """``moment`` in the service's zone; a naive time is taken as service time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=service_timezone())
    return moment.astimezone(service_timezone())


@contextlib.contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Pin the clock to ``moment`` inside the block."""
    global _clock
    previous = _clock

    def pinned() -> datetime:
        return moment

    _clock = pinned
    try:
        yield
    finally:
        _clock = previous


def is_service_open(at: Optional[datetime] = None) -> bool:
    """Whether human agents are on duty (07:00-23:00 every day)."""
    moment = in_service_zone(at) if at else now()
    hours = knowledge.load("facts")["service_hours"]
    opens = time.fromisoformat(hours["open"])
    closes = time.fromisoformat(hours["close"])
    return opens <= moment.time() < closes


def reopens_today(at: Optional[datetime] = None) -> bool:
    """Off hours after midnight: agents are back later today, not tomorrow."""
    moment = in_service_zone(at) if at else now()
    opens = time.fromisoformat(knowledge.load("facts")["service_hours"]["open"])
    return moment.time() < opens


def reopen_day(at: Optional[datetime] = None) -> str:
    """ "今早" or "明早": the wording for when agents are back (facts.yml)."""
    words = knowledge.load("facts")["service_hours"]["reopen_day"]
    return words["today"] if reopens_today(at) else words["tomorrow"]
