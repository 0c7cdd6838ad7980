"""Tracker events and tickets -> conversations with their escalations.

A conversation is one sender's session: the events from a ``session_started``
to the next one (a sender without any session start is one conversation).
Sessions without a user message (a chat widget opened and left) are dropped:
they would count as contained without anyone being helped.

Escalations, in the order a conversation can reach them:

- ``asked_for_human``: the action ``utter_escalate`` (intent request_human,
  followed by action_handoff);
- ``none_of_the_topics``: ``utter_default`` right after the user answered
  「都不是」 (deny) to action_ask_which_topic;
- ``not_understood_twice``: any other ``utter_default``, i.e. low NLU
  confidence again right after action_ask_which_topic;
- ``low_policy_confidence``: the action ``action_default_fallback``;
- ``priority_complaint``: a complaint ticket with priority set, created during
  the conversation (at the ticket's creation time).

A ticket belongs to the conversation of its sender that was open when it was
created: the last one whose session started at or before ``created_at``.

Frustration: a user message is frustrated when the NLU put a ``frustration``
entity on it (any cue: insult, threat, impatience, ...); a conversation is
frustrated when any of its user messages is, relayed ones included. Reaching
a person is the first of the escalations above (any reason, priority
complaints included) at or after the first frustrated message. Turns to a
person = the user messages from the first frustrated one up to and including
the last one sent before that escalation (a frustrated first message answered
with the human route at once: 1). A first frustrated message sent while the
conversation was already handed to a person (relayed) reached one: 0 turns.
A frustrated conversation without either did not reach a person.

Agents (the agent desk, bot/desk/): every message the desk sends is a bot
message with ``desk`` metadata. A conversation is agent-handled when an
agent joined it (``joined``); its handling time runs from that message to
the agent handing it back (``closed``) or the user going back to the bot
(``action_resume_bot``). The agent's part can outlast a session: the end is
counted for the conversation the agent joined.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from bot import clock
from bot.report.reading import HANDOFF_SLOT, StoredEvent, TicketRecord
from bot.stores.tickets import TicketKind, TicketStatus

ASKED_FOR_HUMAN = "asked_for_human"
NOT_UNDERSTOOD_TWICE = "not_understood_twice"
NONE_OF_THE_TOPICS = "none_of_the_topics"
LOW_POLICY_CONFIDENCE = "low_policy_confidence"
PRIORITY_COMPLAINT = "priority_complaint"
ESCALATION_REASONS = (
    ASKED_FOR_HUMAN,
    NOT_UNDERSTOOD_TWICE,
    NONE_OF_THE_TOPICS,
    LOW_POLICY_CONFIDENCE,
    PRIORITY_COMPLAINT,
)
UNKNOWN_LEVEL = "unknown"
# A topic is what the user came for; these intents say nothing about it.
NOT_A_TOPIC = frozenset(
    {
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        "bot_challenge",
        "inform",
        "nlu_fallback",
    }
)
# The agent desk's messages (their ``desk`` metadata) and the user taking the bot back.
DESK_JOINED = "joined"
DESK_REPLY = "reply"
DESK_CLOSED = "closed"
RESUME_ACTION = "action_resume_bot"
# Topic of a conversation whose every message went to an agent.
RELAYED_ONLY = "relayed_to_agent"
OPEN_STATUSES = frozenset({TicketStatus.OPEN, TicketStatus.IN_PROGRESS})


@dataclass(frozen=True)
class UserMessage:
    at: datetime
    intent: Optional[str]
    relayed: bool  # sent while a person had the conversation (handoff_ticket set)
    frustration: tuple[str, ...] = ()  # the NLU's frustration cues, empty when calm

    @property
    def frustrated(self) -> bool:
        return bool(self.frustration)


@dataclass(frozen=True)
class Escalation:
    reason: str
    at: datetime

    @property
    def off_hours(self) -> bool:
        return not clock.is_service_open(self.at)


@dataclass(frozen=True)
class FraudCheck:
    at: datetime
    level: str


@dataclass(frozen=True)
class Conversation:
    sender_id: str
    opened_at: datetime  # the session start
    messages: tuple[UserMessage, ...]
    escalations: tuple[Escalation, ...] = ()
    fraud_checks: tuple[FraudCheck, ...] = ()
    tickets: tuple[TicketRecord, ...] = ()
    agent_joined_at: Optional[datetime] = None
    agent_ended_at: Optional[datetime] = None
    agent_messages: int = 0
    agents: tuple[str, ...] = ()

    @property
    def agent_handled(self) -> bool:
        return self.agent_joined_at is not None

    def handling_seconds(self) -> Optional[float]:
        """From the agent joining to the conversation going back to the bot; None if it has not (yet)."""
        if self.agent_joined_at is None or self.agent_ended_at is None:
            return None
        return max(0.0, (self.agent_ended_at - self.agent_joined_at).total_seconds())

    @property
    def started_at(self) -> datetime:
        """The first user message: when somebody actually asked something."""
        return self.messages[0].at

    @property
    def topic(self) -> str:
        answered = [message.intent for message in self.messages if not message.relayed and message.intent]
        named = [intent for intent in answered if intent not in NOT_A_TOPIC]
        if named:
            return named[0]
        return answered[0] if answered else RELAYED_ONLY

    @property
    def contained(self) -> bool:
        return not self.escalations and not any(ticket.status in OPEN_STATUSES for ticket in self.tickets)

    @property
    def frustrated(self) -> bool:
        return any(message.frustrated for message in self.messages)

    def turns_to_person(self) -> Optional[int]:
        """User messages from the first frustrated one to a person (see the module); None if none."""
        first = next((index for index, message in enumerate(self.messages) if message.frustrated), None)
        if first is None:
            return None
        if self.messages[first].relayed:
            return 0
        since = self.messages[first].at
        escalation = next((e for e in self.escalations if e.at >= since), None)
        if escalation is None:
            return None
        before = sum(message.at <= escalation.at for message in self.messages[first:])
        return max(1, before)  # a ticket's clock may run a little behind the bot's

    def seconds_before_escalation(self) -> Optional[float]:
        if not self.escalations:
            return None
        # Tickets carry the action server's clock: never report a negative wait.
        return max(0.0, (self.escalations[0].at - self.started_at).total_seconds())


def conversations_from(
    events: Iterable[StoredEvent], tickets: Iterable[TicketRecord], fraud_labels: Mapping[str, str]
) -> list[Conversation]:
    """The conversations of ``events`` with their tickets, oldest session first."""
    sessions = attach_tickets(build_sessions(events, fraud_labels), tickets)
    return [session for session in sessions if session.messages]


def build_sessions(events: Iterable[StoredEvent], fraud_labels: Mapping[str, str]) -> list[Conversation]:
    """Every session of the events (also those without a user message), oldest first."""
    senders: dict[str, _SenderState] = {}
    for event in events:
        state = senders.setdefault(event.sender_id, _SenderState(event.sender_id, fraud_labels))
        state.take(event)
    drafts = [draft for state in senders.values() for draft in state.finish()]
    return sorted((draft.freeze() for draft in drafts), key=lambda session: (session.opened_at, session.sender_id))


def attach_tickets(sessions: list[Conversation], tickets: Iterable[TicketRecord]) -> list[Conversation]:
    """Each ticket added to the session open when it was created; priority complaints escalate."""
    by_sender: dict[str, list[int]] = defaultdict(list)
    for index, session in enumerate(sessions):
        by_sender[session.sender_id].append(index)
    found: dict[int, list[TicketRecord]] = defaultdict(list)
    for ticket in tickets:
        open_at = _session_open_at(sessions, by_sender.get(ticket.sender_id, []), ticket.created_at)
        if open_at is not None:
            found[open_at].append(ticket)
    return [_with_tickets(session, found.get(index, [])) for index, session in enumerate(sessions)]


def fraud_level_in(text: Optional[str], labels: Mapping[str, str]) -> Optional[str]:
    """The risk level whose label (cases.yml fraud.level_labels) the bot's text names."""
    # Longest label first, in case one label ever contains another.
    for level, label in sorted(labels.items(), key=lambda item: -len(item[1])):
        if label and label in (text or ""):
            return level
    return None


def _session_open_at(sessions: list[Conversation], indexes: list[int], moment: datetime) -> Optional[int]:
    openings = [sessions[index].opened_at for index in indexes]  # sorted: sessions are
    position = bisect.bisect_right(openings, moment)
    return indexes[position - 1] if position else None


def _with_tickets(session: Conversation, tickets: list[TicketRecord]) -> Conversation:
    if not tickets:
        return session
    priority = [
        Escalation(PRIORITY_COMPLAINT, ticket.created_at)
        for ticket in tickets
        if ticket.kind == TicketKind.COMPLAINT and ticket.priority
    ]
    escalations = tuple(sorted(session.escalations + tuple(priority), key=lambda escalation: escalation.at))
    return dataclasses.replace(session, tickets=session.tickets + tuple(tickets), escalations=escalations)


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=clock.service_timezone())


@dataclass
class _Draft:
    sender_id: str
    opened_at: datetime
    messages: list[UserMessage] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    fraud_checks: list[FraudCheck] = field(default_factory=list)
    agent_joined_at: Optional[datetime] = None
    agent_ended_at: Optional[datetime] = None
    agent_messages: int = 0
    agents: list[str] = field(default_factory=list)

    def freeze(self) -> Conversation:
        return Conversation(
            self.sender_id,
            self.opened_at,
            tuple(self.messages),
            tuple(self.escalations),
            tuple(self.fraud_checks),
            agent_joined_at=self.agent_joined_at,
            agent_ended_at=self.agent_ended_at,
            agent_messages=self.agent_messages,
            agents=tuple(self.agents),
        )


class _SenderState:
    """One sender's events, in the order written, turned into sessions."""

    def __init__(self, sender_id: str, fraud_labels: Mapping[str, str]) -> None:
        self._sender_id = sender_id
        self._fraud_labels = fraud_labels
        self._sessions: list[_Draft] = []
        # The handoff slot carries over into new sessions, like the bot's slots.
        self._handed_off = False
        self._last_intent: Optional[str] = None
        self._fraud_check_at: Optional[datetime] = None  # its level is in the next bot message
        self._with_agent: Optional[_Draft] = None  # the conversation an agent holds now

    def take(self, event: StoredEvent) -> None:
        if event.type_name == "action" and event.name == "action_session_start":
            return  # written just before session_started: it belongs to the new session, not the old
        at = _moment(event.timestamp)
        if event.type_name == "session_started" or not self._sessions:
            self._start_session(at)
        handler = getattr(self, f"_on_{event.type_name}", None)
        if handler is not None:
            handler(event, at)

    def finish(self) -> list[_Draft]:
        self._settle_fraud_check(None)
        return self._sessions

    @property
    def _session(self) -> _Draft:
        return self._sessions[-1]

    def _start_session(self, at: datetime) -> None:
        self._settle_fraud_check(None)
        self._sessions.append(_Draft(self._sender_id, at))
        self._last_intent = None

    def _on_restart(self, _event: StoredEvent, _at: datetime) -> None:
        self._handed_off = False

    def _on_slot(self, event: StoredEvent, _at: datetime) -> None:
        if event.name == HANDOFF_SLOT:
            self._handed_off = bool(event.value)

    def _on_user(self, event: StoredEvent, at: datetime) -> None:
        self._settle_fraud_check(None)
        self._session.messages.append(UserMessage(at, event.name, self._handed_off, event.frustration))
        self._last_intent = event.name

    def _on_bot(self, event: StoredEvent, at: datetime) -> None:
        if event.desk:
            self._on_desk_message(event, at)
            return
        level = fraud_level_in(event.text, self._fraud_labels) if self._fraud_check_at else None
        if level:
            self._settle_fraud_check(level)

    def _on_desk_message(self, event: StoredEvent, at: datetime) -> None:
        if event.desk == DESK_JOINED and self._with_agent is None:
            self._with_agent = self._session
            if self._session.agent_joined_at is None:
                self._session.agent_joined_at = at
        held = self._with_agent
        if held is None:
            return
        if event.agent and event.agent not in held.agents:
            held.agents.append(event.agent)
        if event.desk == DESK_REPLY:
            held.agent_messages += 1
        elif event.desk == DESK_CLOSED:
            self._end_agent_session(at)

    def _end_agent_session(self, at: datetime) -> None:
        if self._with_agent is not None:
            self._with_agent.agent_ended_at = at
            self._with_agent = None

    def _on_action(self, event: StoredEvent, at: datetime) -> None:
        if event.name == "action_listen":
            return
        if event.name == RESUME_ACTION:
            self._end_agent_session(at)
        self._settle_fraud_check(None)
        reason = self._escalation_reason(event.name)
        if reason:
            self._session.escalations.append(Escalation(reason, at))
        if event.name == "action_fraud_check":
            self._fraud_check_at = at

    def _escalation_reason(self, action: Optional[str]) -> Optional[str]:
        if action == "utter_escalate":
            return ASKED_FOR_HUMAN
        if action == "utter_default":
            return NONE_OF_THE_TOPICS if self._last_intent == "deny" else NOT_UNDERSTOOD_TWICE
        if action == "action_default_fallback":
            return LOW_POLICY_CONFIDENCE
        return None

    def _settle_fraud_check(self, level: Optional[str]) -> None:
        """Record the pending fraud check; without a level once its answer is over."""
        if self._fraud_check_at is None:
            return
        self._session.fraud_checks.append(FraudCheck(self._fraud_check_at, level or UNKNOWN_LEVEL))
        self._fraud_check_at = None
