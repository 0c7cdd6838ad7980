"""The report's period: Shanghai calendar days, both ends included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Optional

from bot.clock import in_service_zone, service_timezone


@dataclass(frozen=True)
class Period:
    """``first``..``last`` (inclusive); an open end reaches as far as the data."""

    first: Optional[date] = None
    last: Optional[date] = None

    def __post_init__(self) -> None:
        if self.first and self.last and self.first > self.last:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    @property
    def start(self) -> Optional[datetime]:
        """Shanghai midnight opening the first day."""
        return _midnight(self.first) if self.first else None

    @property
    def end(self) -> Optional[datetime]:
        """Shanghai midnight after the last day (excluded)."""
        return _midnight(self.last + timedelta(days=1)) if self.last else None

    def contains(self, moment: datetime) -> bool:
        day = in_service_zone(moment).date()
        return (self.first is None or day >= self.first) and (self.last is None or day <= self.last)

    def describe(self) -> str:
        if not self.first and not self.last:
            return "全部时间 (all dates)"
        return f"{self.first or '最早'} – {self.last or '最新'}"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=service_timezone())
