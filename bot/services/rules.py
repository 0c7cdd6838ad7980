"""The cases' rules of thumb (bot/knowledge/cases.yml) that operators may override."""

from __future__ import annotations

from bot import knowledge
from bot.settings import env_number


def priority_amount_yuan() -> float:
    """The complaint amount above which a complaint is priority (env overrides the file)."""
    from_file = float(knowledge.load("cases")["complaint"]["priority_amount_yuan"])
    return env_number("PRIORITY_AMOUNT_YUAN", from_file, positive=False)
