"""Reading a conversation's events (rasa_sdk's JSON form) for the cases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

Event = dict[str, Any]


def current_session(events: Iterable[Event]) -> list[Event]:
    """Events after the latest session start or restart."""
    session: list[Event] = []
    for event in events:
        if event.get("event") in ("session_started", "restart"):
            session = []
        else:
            session.append(event)
    return session


def user_messages(events: Iterable[Event]) -> list[Event]:
    """The user's messages of the current session, oldest first (button payloads skipped)."""
    return [
        event
        for event in current_session(events)
        if event.get("event") == "user" and not _is_payload(event.get("text"))
    ]


def user_texts(events: Iterable[Event], last: Optional[int] = None) -> list[str]:
    texts = [event.get("text") or "" for event in user_messages(events)]
    return texts[-last:] if last else texts


def messages_since_intent(events: Iterable[Event], intents: Iterable[str]) -> list[Event]:
    """The user's messages from the latest one with one of ``intents`` on."""
    wanted = set(intents)
    messages = [event for event in current_session(events) if event.get("event") == "user"]
    for index in range(len(messages) - 1, -1, -1):
        if _intent_of(messages[index]) in wanted:
            return messages[index:]
    return messages[-1:]


def entity_values(messages: Iterable[Event], entity: str) -> list[str]:
    """Values of ``entity`` in ``messages``, first mention first, without repeats."""
    values: list[str] = []
    for message in messages:
        for found in (message.get("parse_data") or {}).get("entities") or []:
            value = found.get("value")
            if found.get("entity") == entity and value and value not in values:
                values.append(str(value))
    return values


def joined_text(messages: Iterable[Event]) -> str:
    return "\n".join(event.get("text") or "" for event in messages if not _is_payload(event.get("text")))


def latest_case_intent(events: Iterable[Event], case_intents: Iterable[str]) -> Optional[str]:
    """The latest of ``case_intents`` the user expressed in this session."""
    wanted = set(case_intents)
    for event in reversed(current_session(events)):
        if event.get("event") == "user" and _intent_of(event) in wanted:
            return _intent_of(event)
    return None


def _intent_of(event: Event) -> Optional[str]:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def _is_payload(text: Optional[str]) -> bool:
    return bool(text and text.startswith("/"))
