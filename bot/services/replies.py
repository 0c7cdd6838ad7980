"""The action server's messages (bot/knowledge/replies.yml) with their values filled in."""

from __future__ import annotations

from typing import Any

from bot import knowledge
from bot.knowledge.texts import fill, response_placeholders


def reply(name: str, **values: Any) -> dict[str, Any]:
    """``{"text": ..., "buttons": [...]}`` for ``dispatcher.utter_message(**reply(...))``.

    Facts first, then ``values``; user text in a value is inserted as it is,
    never read as a template.
    """
    entry = knowledge.load("replies")[name]
    if isinstance(entry, str):
        entry = {"text": entry}
    filling = {**response_placeholders(), **values}
    message: dict[str, Any] = {"text": fill(entry["text"], filling)}
    if entry.get("buttons"):
        message["buttons"] = _buttons(entry["buttons"], filling)
    return message


def _buttons(buttons: list[dict[str, str]], filling: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"title": fill(button["title"], filling), "payload": fill(button["payload"], filling)} for button in buttons
    ]
