"""What to ask when the NLU is not confident: the likeliest topics as buttons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot import knowledge

MAX_TOPICS = 3
# "None of these" answers no; right after the question that escalates.
NONE_OF_THESE_PAYLOAD = "/deny"


def clarification_question() -> str:
    return knowledge.load("topics")["question"]


def likeliest_topics(intent_ranking: Iterable[dict[str, Any]]) -> list[str]:
    """Up to three offerable intents, best first, padded with common topics."""
    labels = knowledge.load("topics")["topics"]
    ranked = [item.get("name") for item in intent_ranking or [] if isinstance(item, dict)]
    chosen = [name for name in ranked if isinstance(name, str) and name in labels][:MAX_TOPICS]
    for name in labels:
        if len(chosen) == MAX_TOPICS:
            break
        if name not in chosen:
            chosen.append(name)
    return chosen


def clarification_buttons(intent_ranking: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    labels = knowledge.load("topics")["topics"]
    buttons = [{"title": labels[name], "payload": f"/{name}"} for name in likeliest_topics(intent_ranking)]
    buttons.append({"title": knowledge.load("topics")["none_of_these"], "payload": NONE_OF_THESE_PAYLOAD})
    return buttons


def topic_label(intent: str) -> str:
    """The user-facing name of a topic ("退款/退货" for refund); the intent itself if it has none."""
    return knowledge.load("topics")["topics"].get(intent, intent)
