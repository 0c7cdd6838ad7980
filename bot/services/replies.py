"""The action server's messages (bot/knowledge/replies.yml) with their values filled in."""
from __future__ import annotations

import functools
import string
from typing import Any, Dict, List

import yaml

from bot.facts import KNOWLEDGE_DIR, response_placeholders

REPLIES_FILE = KNOWLEDGE_DIR / "replies.yml"


@functools.lru_cache(maxsize=None)
def replies() -> Dict[str, Any]:
    with REPLIES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def reply(name: str, **values: Any) -> Dict[str, Any]:
    """``{"text": ..., "buttons": [...]}`` for ``dispatcher.utter_message(**reply(...))``.

    Facts first, then ``values``; user text in a value is inserted as it is,
    never read as a template.
    """
    entry = replies()[name]
    if isinstance(entry, str):
        entry = {"text": entry}
    filling = {**response_placeholders(), **values}
    message: Dict[str, Any] = {"text": _fill(entry["text"], filling)}
    if entry.get("buttons"):
        message["buttons"] = _buttons(entry["buttons"], filling)
    return message


def _buttons(buttons: List[Dict[str, str]], filling: Dict[str, Any]) -> List[Dict[str, str]]:
    return [
        {"title": _fill(button["title"], filling), "payload": _fill(button["payload"], filling)}
        for button in buttons
    ]


def _fill(template: str, filling: Dict[str, Any]) -> str:
    return string.Formatter().vformat(template, (), filling)
