"""Conversations, tickets and ratings -> the report's figures (pure functions).

Which period a record counts in (see bot/report/__init__.py for the whole
list of definitions):

- conversation figures (conversations per day and hour, containment,
  escalations, time before escalation, frustrated conversations and their
  turns to a person, the per-conversation rows): conversations whose first
  user message is in the period;
- message figures (messages per day and hour, NLU fallback rate, top
  intents) and fraud checks: by their own time;
- tickets and ratings: by their creation time; ticket states as stored now.

Rates are exact fractions of the counts (no rounding here; the page rounds).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional

from bot.clock import in_service_zone
from bot.report.conversations import ESCALATION_REASONS, UNKNOWN_LEVEL, Conversation, UserMessage
from bot.report.period import Period
from bot.report.reading import RatingRecord, TicketRecord
from bot.stores.tickets import TicketStatus

SCORES = (1, 2, 3, 4, 5)
STATUS_ORDER = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED)
NO_INTENT = "unknown"
FALLBACK_INTENT = "nlu_fallback"


@dataclass(frozen=True)
class DayCount:
    day: date
    conversations: int
    messages: int


@dataclass(frozen=True)
class HourCount:
    hour: int  # Shanghai hour of day, 0-23
    conversations: int
    messages: int


@dataclass(frozen=True)
class TopicContainment:
    topic: str
    conversations: int
    contained: int

    @property
    def rate(self) -> float:
        return self.contained / self.conversations


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    in_hours: int
    off_hours: int

    @property
    def total(self) -> int:
        return self.in_hours + self.off_hours


@dataclass(frozen=True)
class Frustration:
    """Frustrated conversations and the turns they took to reach a person (conversations.py)."""

    conversations: int
    turns_to_person: tuple[int, ...] = ()  # one per frustrated conversation that reached a person, fewest first

    @property
    def reached(self) -> int:
        return len(self.turns_to_person)

    @property
    def not_reached(self) -> int:
        return self.conversations - self.reached

    @property
    def median_turns(self) -> Optional[float]:
        return statistics.median(self.turns_to_person) if self.turns_to_person else None

    @property
    def max_turns(self) -> Optional[int]:
        return max(self.turns_to_person) if self.turns_to_person else None


@dataclass(frozen=True)
class AgentHandling:
    """Conversations an agent took over at the desk, and how long each took (conversations.py)."""

    conversations: int = 0
    messages: int = 0  # the agents' own messages
    handling_seconds: tuple[float, ...] = ()  # one per conversation handed back, shortest first

    @property
    def median_seconds(self) -> Optional[float]:
        return statistics.median(self.handling_seconds) if self.handling_seconds else None

    @property
    def max_seconds(self) -> Optional[float]:
        return max(self.handling_seconds) if self.handling_seconds else None


@dataclass(frozen=True)
class ConversationRow:
    """One conversation of the period (the per-conversation CSV)."""

    sender_id: str
    started_at: datetime
    topic: str
    messages: int
    escalations: int
    contained: bool
    frustrated: bool
    turns_to_person: Optional[int]  # None: not frustrated, or no person reached
    agent_handled: bool = False
    handling_seconds: Optional[float] = None  # None: no agent, or not handed back yet


@dataclass(frozen=True)
class TicketCount:
    kind: str
    status: str
    priority: bool
    count: int


@dataclass(frozen=True)
class Figures:
    period: Period
    conversations: int
    contained: int
    messages: int
    classified_messages: int  # messages outside handoffs
    fallback_messages: int
    daily: tuple[DayCount, ...]
    hourly: tuple[HourCount, ...]
    containment_by_topic: tuple[TopicContainment, ...]
    escalations: tuple[ReasonCount, ...]
    escalated_conversations: int
    median_seconds_before_escalation: Optional[float]
    frustration: Frustration
    intents: tuple[tuple[str, int], ...]  # most frequent first
    fraud_levels: tuple[tuple[str, int], ...]
    ratings: tuple[tuple[int, int], ...]  # (score, count) for 1..5
    tickets: tuple[TicketCount, ...]
    promised_containment: Optional[float]  # facts.yml smart_service_share
    conversation_rows: tuple[ConversationRow, ...] = ()  # in the period, oldest session first
    agent_handling: AgentHandling = AgentHandling()

    @property
    def is_empty(self) -> bool:
        return not (self.conversations or self.messages or self.tickets or self.rated)

    @property
    def containment_rate(self) -> Optional[float]:
        return self.contained / self.conversations if self.conversations else None

    @property
    def frustrated_share(self) -> Optional[float]:
        return self.frustration.conversations / self.conversations if self.conversations else None

    @property
    def fallback_rate(self) -> Optional[float]:
        return self.fallback_messages / self.classified_messages if self.classified_messages else None

    @property
    def agent_share_of_escalated(self) -> Optional[float]:
        """Of the conversations that asked for or were sent to a person, how many an agent took over."""
        if not self.escalated_conversations:
            return None
        return self.agent_handling.conversations / self.escalated_conversations

    @property
    def rated(self) -> int:
        return sum(count for _, count in self.ratings)

    @property
    def average_rating(self) -> Optional[float]:
        return sum(score * count for score, count in self.ratings) / self.rated if self.rated else None

    @property
    def escalation_total(self) -> int:
        return sum(row.total for row in self.escalations)

    @property
    def ticket_total(self) -> int:
        return sum(row.count for row in self.tickets)


def compute_figures(
    conversations: Sequence[Conversation],
    tickets: Iterable[TicketRecord],
    ratings: Iterable[RatingRecord],
    period: Period,
    fraud_levels: Sequence[str],
    ticket_kinds: Sequence[str],
    promised_share: Optional[str] = None,
) -> Figures:
    """All figures of the period; ``fraud_levels`` and ``ticket_kinds`` give the display order."""
    in_period = [conversation for conversation in conversations if period.contains(conversation.started_at)]
    messages = [message for c in conversations for message in c.messages if period.contains(message.at)]
    answered = [message for message in messages if not message.relayed]
    # seconds_before_escalation() is None exactly for the conversations without escalations.
    escalated = [seconds for c in in_period if (seconds := c.seconds_before_escalation()) is not None]
    return Figures(
        period=period,
        conversations=len(in_period),
        contained=sum(c.contained for c in in_period),
        messages=len(messages),
        classified_messages=len(answered),
        fallback_messages=sum(message.intent == FALLBACK_INTENT for message in answered),
        daily=daily_counts(in_period, messages, period),
        hourly=hourly_counts(in_period, messages),
        containment_by_topic=containment_by_topic(in_period),
        escalations=escalations_by_reason(in_period),
        escalated_conversations=len(escalated),
        median_seconds_before_escalation=statistics.median(escalated) if escalated else None,
        frustration=frustration(in_period),
        intents=top_intents(answered),
        fraud_levels=fraud_checks_by_level(conversations, period, fraud_levels),
        ratings=ratings_by_score(ratings, period),
        tickets=tickets_by_kind_status_priority(tickets, period, ticket_kinds),
        promised_containment=promised_fraction(promised_share),
        conversation_rows=tuple(conversation_row(c) for c in in_period),
        agent_handling=agent_handling(in_period),
    )


def daily_counts(
    in_period: Sequence[Conversation], messages: Sequence[UserMessage], period: Period
) -> tuple[DayCount, ...]:
    """Every day of the period (open ends: of the data), zeros included, so gaps show."""
    conversations_per_day = Counter(_day(c.started_at) for c in in_period)
    messages_per_day = Counter(_day(message.at) for message in messages)
    seen = sorted(set(conversations_per_day) | set(messages_per_day))
    if not seen and not (period.first and period.last):
        return ()
    first = period.first or seen[0]
    last = period.last or seen[-1]
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return tuple(DayCount(day, conversations_per_day[day], messages_per_day[day]) for day in days)


def hourly_counts(in_period: Sequence[Conversation], messages: Sequence[UserMessage]) -> tuple[HourCount, ...]:
    conversations_per_hour = Counter(_hour(c.started_at) for c in in_period)
    messages_per_hour = Counter(_hour(message.at) for message in messages)
    return tuple(HourCount(hour, conversations_per_hour[hour], messages_per_hour[hour]) for hour in range(24))


def containment_by_topic(in_period: Sequence[Conversation]) -> tuple[TopicContainment, ...]:
    """Per topic, the most frequent first (ties by name, so the order is stable)."""
    totals = Counter(c.topic for c in in_period)
    contained = Counter(c.topic for c in in_period if c.contained)
    rows = [TopicContainment(topic, count, contained[topic]) for topic, count in totals.items()]
    return tuple(sorted(rows, key=lambda row: (-row.conversations, row.topic)))


def escalations_by_reason(in_period: Sequence[Conversation]) -> tuple[ReasonCount, ...]:
    """Every escalation event, each reason listed (zeros too), split by service hours."""
    escalations = [escalation for c in in_period for escalation in c.escalations]
    off = Counter(e.reason for e in escalations if e.off_hours)
    on = Counter(e.reason for e in escalations if not e.off_hours)
    return tuple(ReasonCount(reason, on[reason], off[reason]) for reason in ESCALATION_REASONS)


def frustration(in_period: Sequence[Conversation]) -> Frustration:
    frustrated = [c for c in in_period if c.frustrated]
    turns = (c.turns_to_person() for c in frustrated)
    return Frustration(len(frustrated), tuple(sorted(turn for turn in turns if turn is not None)))


def agent_handling(in_period: Sequence[Conversation]) -> AgentHandling:
    handled = [c for c in in_period if c.agent_handled]
    seconds = (c.handling_seconds() for c in handled)
    return AgentHandling(
        conversations=len(handled),
        messages=sum(c.agent_messages for c in handled),
        handling_seconds=tuple(sorted(value for value in seconds if value is not None)),
    )


def conversation_row(conversation: Conversation) -> ConversationRow:
    return ConversationRow(
        sender_id=conversation.sender_id,
        started_at=conversation.started_at,
        topic=conversation.topic,
        messages=len(conversation.messages),
        escalations=len(conversation.escalations),
        contained=conversation.contained,
        frustrated=conversation.frustrated,
        turns_to_person=conversation.turns_to_person(),
        agent_handled=conversation.agent_handled,
        handling_seconds=conversation.handling_seconds(),
    )


def top_intents(messages: Sequence[UserMessage]) -> tuple[tuple[str, int], ...]:
    counts = Counter(message.intent or NO_INTENT for message in messages)
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def fraud_checks_by_level(
    conversations: Sequence[Conversation], period: Period, levels: Sequence[str]
) -> tuple[tuple[str, int], ...]:
    """Each configured level (zeros too), then ``unknown`` if an answer named none."""
    counts = Counter(check.level for c in conversations for check in c.fraud_checks if period.contains(check.at))
    unknown = ((UNKNOWN_LEVEL, counts[UNKNOWN_LEVEL]),) if counts[UNKNOWN_LEVEL] else ()
    return tuple((level, counts[level]) for level in levels) + unknown


def ratings_by_score(ratings: Iterable[RatingRecord], period: Period) -> tuple[tuple[int, int], ...]:
    counts = Counter(rating.score for rating in ratings if period.contains(rating.created_at))
    return tuple((score, counts[score]) for score in SCORES)


def tickets_by_kind_status_priority(
    tickets: Iterable[TicketRecord], period: Period, kinds: Sequence[str]
) -> tuple[TicketCount, ...]:
    """Only combinations that occur, in the configured kind order, then status, normal before priority."""
    counts = Counter(
        (ticket.kind, ticket.status, ticket.priority) for ticket in tickets if period.contains(ticket.created_at)
    )
    rows = [TicketCount(kind, status, priority, count) for (kind, status, priority), count in counts.items()]
    return tuple(sorted(rows, key=lambda row: (_rank(kinds, row.kind), _rank(STATUS_ORDER, row.status), row.priority)))


def promised_fraction(share: Optional[str]) -> Optional[float]:
    """ "约70%" -> 0.7: the article's share of questions smart service resolves."""
    match = re.search(r"(\d+(?:\.\d+)?)\s*%", share or "")
    return float(match.group(1)) / 100 if match else None


def _rank(order: Sequence[str], value: str) -> tuple[int, str]:
    # Values the configuration does not know (older data) go last, by name.
    return (order.index(value), "") if value in order else (len(order), value)


def _day(moment: datetime) -> date:
    return in_service_zone(moment).date()


def _hour(moment: datetime) -> int:
    return in_service_zone(moment).hour
