"""What the bot says first to an angry shopper (action_acknowledge_frustration)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

from bot import frustration, knowledge
from bot.services.conversation import user_messages
from bot.services.replies import reply


def frustrated_messages(events: Iterable[dict[str, Any]]) -> int:
    """How many of the session's user messages were frustrated."""
    return sum(frustration.is_frustrated(message.get("parse_data")) for message in user_messages(events))


def cue_kind(parse_data: Optional[dict[str, Any]]) -> Optional[str]:
    for entity in (parse_data or {}).get("entities") or []:
        if entity.get("entity") == frustration.ENTITY:
            return str(entity.get("value"))
    return None


def acknowledgement(
    parse_data: dict[str, Any], events: Iterable[dict[str, Any]], active_form: Optional[str]
) -> dict[str, Any]:
    """One short line for the feeling, then what happens next (the same route the policy takes)."""
    intent = (parse_data.get("intent") or {}).get("name")
    route = frustration.route(intent, parse_data, frustrated_messages(events), active_form is not None)
    replies = knowledge.load("replies")
    # A kind of cue without its own line (a new one in frustration.yml) gets the general one.
    name = f"frustration_{cue_kind(parse_data)}"
    return reply(name if name in replies else "frustration_exasperation", then=replies[f"frustration_then_{route}"])
