"""The agent desk's rules: the queue, who holds a conversation, what the desk says, WeChat's budget.

The one service module that calls the desk store (bot/stores/desk.py). The
desk web app (bot/desk/) and the handoff service (bot.services.handoff, in the
action server) both go through it. What the desk says to users in the bot's
name (a person joined, nobody is free yet, handed back) is in
bot/knowledge/replies.yml; every message it sends is also filed in the ticket,
so the agent's view and the ticket show the same conversation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from bot import clock
from bot.services import backends, tickets
from bot.services.clarification import topic_label
from bot.services.replies import reply
from bot.settings import env_number
from bot.stores.desk import Assignment, EndReason, Session, StoredMessage
from bot.stores.tickets import Ticket, TicketKind, TicketStatus

HANDOFF_SLOT = "handoff_ticket"
# WeChat allows 5 customer-service messages within 48 hours of the user's
# last message; one is kept for the closing message and rating question.
WECHAT_CHANNEL = "wechat"
WECHAT_MESSAGE_LIMIT = 5
WECHAT_WINDOW = timedelta(hours=48)
CLOSING_RESERVE = 1
DEFAULT_QUEUE_TIMEOUT_MINUTES = 10.0
MAX_AGENT_MESSAGE_CHARS = 1000
# Ticket message authors: the user, an agent ("agent:wang"), the desk in the bot's name ("desk:joined").
USER_AUTHOR = "user"
AGENT_AUTHOR = "agent:"
DESK_AUTHOR = "desk:"
# The rating after a handoff is about the handoff ticket.
RATED_CASE = "handoff"


class Notice:
    """Things that happen to a waiting ticket once: the desk tells the user, the user leaves."""

    TIMEOUT = "timeout"
    RESUMED = "resumed"


class DeskEvent:
    """What a message the desk sends is (the ``desk`` metadata of its bot event; the report reads it)."""

    JOINED = "joined"
    REPLY = "reply"
    TRANSFERRED = "transferred"
    TIMEOUT = "timeout"
    CLOSED = "closed"


@dataclass(frozen=True)
class QueueEntry:
    number: str
    kind: str
    sender_id: str
    priority: bool
    priority_reason: Optional[str]
    topic: Optional[str]
    order_id: Optional[str]
    summary: str
    channel: Optional[str]
    created_at: datetime
    waited_seconds: int
    timed_out: bool
    user_resumed: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "kind": self.kind,
            "priority": self.priority,
            "priority_reason": self.priority_reason,
            "topic": self.topic,
            "order_id": self.order_id,
            "summary": self.summary,
            "channel": self.channel,
            "created_at": self.created_at.isoformat(),
            "waited_seconds": self.waited_seconds,
            "timed_out": self.timed_out,
            "user_resumed": self.user_resumed,
        }


@dataclass(frozen=True)
class WeChatBudget:
    """Customer-service messages WeChat still takes for this user now."""

    used: int
    window_ends: Optional[datetime]
    limit: int = WECHAT_MESSAGE_LIMIT

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used) if self.open else 0

    @property
    def open(self) -> bool:
        return self.window_ends is not None and clock.now() < self.window_ends

    @property
    def left_for_agent(self) -> int:
        """What the agent may still send: one message stays for closing."""
        return max(0, self.left - CLOSING_RESERVE)

    def as_json(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "used": self.used,
            "left": self.left,
            "left_for_agent": self.left_for_agent,
            "reserved_for_closing": CLOSING_RESERVE,
            "window_ends": self.window_ends.isoformat() if self.window_ends else None,
        }


# --- settings ---------------------------------------------------------------------


def queue_timeout() -> timedelta:
    """How long a handed-off user waits for a person before the bot offers a callback or a message."""
    return timedelta(minutes=env_number("DESK_QUEUE_TIMEOUT_MINUTES", DEFAULT_QUEUE_TIMEOUT_MINUTES))


# --- the queue ----------------------------------------------------------------------


def queue(now: Optional[datetime] = None) -> list[QueueEntry]:
    """Conversations waiting for a person: priority first, then the longest waiting."""
    moment = now or clock.now()
    waiting = backends.desk().queue()
    notices = backends.desk().notices(ticket.number for ticket in waiting)
    return [queue_entry(ticket, notices.get(ticket.number, set()), moment) for ticket in waiting]


def queue_entry(ticket: Ticket, notices: Iterable[str], now: datetime) -> QueueEntry:
    intent = ticket.details.get("intent")
    return QueueEntry(
        number=ticket.number,
        kind=ticket.kind,
        sender_id=ticket.sender_id,
        priority=ticket.priority,
        priority_reason=ticket.details.get("priority_reason"),
        topic=topic_label(intent) if intent else None,
        order_id=ticket.order_id,
        summary=ticket.summary,
        channel=ticket.details.get("channel"),
        created_at=ticket.created_at,
        waited_seconds=max(0, int((now - ticket.created_at).total_seconds())),
        timed_out=Notice.TIMEOUT in notices,
        user_resumed=Notice.RESUMED in notices,
    )


def ticket(number: str) -> Optional[Ticket]:
    return tickets.get(number)


def entry_of(number: str, now: Optional[datetime] = None) -> Optional[QueueEntry]:
    """The ticket as the queue shows it (also once someone holds it)."""
    found = ticket(number)
    if found is None or found.kind not in (TicketKind.HANDOFF, TicketKind.MESSAGE):
        return None
    notices = backends.desk().notices([found.number]).get(found.number, set())
    return queue_entry(found, notices, now or clock.now())


# --- holding a conversation ------------------------------------------------------------


def claim(number: str, agent_id: str) -> bool:
    """The waiting conversation becomes ``agent_id``'s; False when it is no longer waiting."""
    return backends.desk().claim(number, agent_id)


def release(number: str, agent_id: str) -> bool:
    """Undo a claim whose message could not reach the user: back in the queue."""
    return backends.desk().release(number, agent_id)


def holder(number: str) -> Optional[Assignment]:
    return backends.desk().holder(number)


def is_held(number: Optional[str]) -> bool:
    return bool(number) and holder(number or "") is not None


def held_by(agent_id: str) -> list[tuple[Assignment, Ticket]]:
    return backends.desk().held_by(agent_id)


def handlers(number: str) -> list[Assignment]:
    """Who held the conversation, in order: the ticket's handlers."""
    return backends.desk().assignments(number)


def close(number: str, agent_id: str) -> bool:
    """The agent hands the conversation back to the bot: the ticket is resolved."""
    return backends.desk().finish(number, EndReason.CLOSED, TicketStatus.RESOLVED, agent_id) is not None


def transfer(number: str, from_agent: str, to_agent: str) -> bool:
    return backends.desk().transfer(number, from_agent, to_agent)


def user_resumed(number: Optional[str]) -> bool:
    """The user went back to the bot; True when a person held the conversation (that session is over)."""
    if not number:
        return False
    ended = backends.desk().finish(number, EndReason.USER_RESUMED, TicketStatus.RESOLVED)
    if ended is None:
        # Nobody had joined yet: the ticket stays for a person to follow up, flagged in the queue.
        backends.desk().add_notice(number, Notice.RESUMED)
        return False
    return True


# --- agents' sessions ------------------------------------------------------------------


def start_session(token_hash: str, agent_id: str, csrf_token: str, expires_at: datetime) -> None:
    backends.desk().create_session(token_hash, agent_id, csrf_token, expires_at)


def session(token_hash: str) -> Optional[Session]:
    return backends.desk().session(token_hash)


def end_session(token_hash: str) -> None:
    backends.desk().delete_session(token_hash)


# --- the queue timeout ----------------------------------------------------------------


def overdue(now: Optional[datetime] = None) -> list[Ticket]:
    """Handoff tickets nobody claimed within the queue timeout whose user was not told yet.

    Leave-a-message tickets (off hours) are not: their user was told when
    agents are back; nor those whose user went back to the bot.
    """
    moment = now or clock.now()
    return backends.desk().waiting_since(
        moment - queue_timeout(), [TicketKind.HANDOFF], [Notice.TIMEOUT, Notice.RESUMED]
    )


def mark_timed_out(number: str) -> bool:
    """True for the one process that tells this user; False if another one already did."""
    return backends.desk().add_notice(number, Notice.TIMEOUT)


def unmark_timed_out(number: str) -> None:
    """The user could not be told: the next sweep tries again."""
    backends.desk().remove_notice(number, Notice.TIMEOUT)


# --- what the desk says, in the bot's name ------------------------------------------------


def joined_message(agent_name: str) -> dict[str, Any]:
    return reply("desk_joined", agent_name=agent_name)


def transferred_message(agent_name: str) -> dict[str, Any]:
    return reply("desk_transferred", agent_name=agent_name)


def timeout_message(number: str) -> dict[str, Any]:
    return reply("desk_timeout", ticket_number=number)


def closing_message() -> dict[str, Any]:
    """The bot is back, and asks for the rating (its buttons are the rating question's)."""
    closing = reply("desk_closed")
    return {"text": f"{closing['text']}\n{reply('ask_rating')['text']}", "buttons": reply("ask_rating")["buttons"]}


def paused_slots(number: str) -> dict[str, Any]:
    """The slot that keeps the bot quiet while a person has the conversation."""
    return {HANDOFF_SLOT: number}


def closing_slots(number: str) -> dict[str, Any]:
    """The bot answers again, and the next rating is about this handoff ticket."""
    return {HANDOFF_SLOT: None, "last_case": RATED_CASE, "last_ticket": number}


def desk_metadata(kind: str, agent_id: Optional[str] = None) -> dict[str, Any]:
    """The metadata of a bot event the desk sends: what it is and who sent it (the report reads it)."""
    return {"desk": {"kind": kind, "agent": agent_id}}


# --- messages filed in the ticket --------------------------------------------------------


def clean_agent_text(text: Any) -> Optional[str]:
    """The agent's message as it will be sent, or None if there is nothing to send."""
    if not isinstance(text, str):
        return None
    cleaned = text.strip()
    return cleaned[:MAX_AGENT_MESSAGE_CHARS] if cleaned else None


def file_agent_message(number: str, agent_id: str, text: str) -> None:
    tickets.add_message(number, text, author=f"{AGENT_AUTHOR}{agent_id}")


def file_desk_message(number: str, kind: str, text: str) -> None:
    tickets.add_message(number, text, author=f"{DESK_AUTHOR}{kind}")


def messages_after(numbers: Iterable[str], after_id: int = 0) -> list[StoredMessage]:
    return backends.desk().messages(numbers, after_id)


def message_item(message: StoredMessage) -> dict[str, Any]:
    """A ticket message as the desk shows it: who (user, agent, bot), what, when."""
    author = message.author or USER_AUTHOR
    item: dict[str, Any] = {"id": message.id, "ticket": message.ticket_number, "text": message.text}
    item["at"] = _clock_time(message.created_at)
    if author.startswith(AGENT_AUTHOR):
        item.update({"from": "agent", "agent": author[len(AGENT_AUTHOR) :]})
    elif author.startswith(DESK_AUTHOR):
        item.update({"from": "bot", "desk": author[len(DESK_AUTHOR) :]})
    else:
        item["from"] = "user"
    return item


# --- the transcript -------------------------------------------------------------------------


def transcript(events: Iterable[Mapping[str, Any]], number: str, messages: Iterable[StoredMessage]) -> list[dict]:
    """The whole conversation for the agent: the bot's part from the tracker, then the ticket's messages.

    The tracker (Rasa's JSON events) tells the conversation up to the handoff
    to this ticket; from there on the ticket's messages do: the user's
    messages relayed to it and everything the desk sent, in the order filed.
    Texts are as stored (masked); a button click shows as its title.
    """
    items: list[dict] = []
    titles: dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == HANDOFF_SLOT and event.get("value") == number:
            break
        if kind == "bot":
            buttons = (event.get("data") or {}).get("buttons") or []
            titles = {str(button.get("payload")): str(button.get("title")) for button in buttons}
            items.append(
                {
                    "from": "bot",
                    "text": event.get("text") or "",
                    "buttons": [str(button.get("title")) for button in buttons],
                    "at": _timestamp_time(event.get("timestamp")),
                }
            )
        elif kind == "user" and event.get("text") is not None:
            text = str(event["text"])
            shown = (event.get("metadata") or {}).get("shown_as") or titles.get(text) or text
            items.append({"from": "user", "text": shown, "at": _timestamp_time(event.get("timestamp"))})
    return items + [message_item(message) for message in messages]


# --- WeChat's customer-service message budget ----------------------------------------------


def wechat_budget(number: str, ticket_created_at: datetime) -> WeChatBudget:
    """Messages sent through the API since the user's last message, and until when WeChat takes any."""
    last_user_id = 0
    last_user_at = ticket_created_at  # the user's message that asked for a person
    sent = 0
    for message in backends.desk().messages([number]):
        if message.author == USER_AUTHOR:
            last_user_id, last_user_at, sent = message.id, message.created_at, 0
        elif message.id > last_user_id and _is_sent_by_desk(message.author):
            sent += 1
    return WeChatBudget(used=sent, window_ends=last_user_at + WECHAT_WINDOW)


def _is_sent_by_desk(author: str) -> bool:
    return author.startswith(AGENT_AUTHOR) or author.startswith(DESK_AUTHOR)


def _clock_time(moment: datetime) -> str:
    return f"{clock.in_service_zone(moment):%H:%M}"


def _timestamp_time(timestamp: Any) -> Optional[str]:
    if not isinstance(timestamp, (int, float)):
        return None
    return f"{datetime.fromtimestamp(timestamp, tz=clock.service_timezone()):%H:%M}"
