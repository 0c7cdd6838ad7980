"""What to ask when the NLU is not confident: the likeliest topics as buttons."""
from __future__ import annotations

import functools
from typing import Any, Dict, Iterable, List

import yaml

from bot.facts import KNOWLEDGE_DIR

TOPICS_FILE = KNOWLEDGE_DIR / "topics.yml"
MAX_TOPICS = 3
# "None of these" answers no; right after the question that escalates.
NONE_OF_THESE_PAYLOAD = "/deny"


@functools.lru_cache(maxsize=None)
def _topics_file() -> Dict[str, Any]:
    with TOPICS_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def clarification_question() -> str:
    return _topics_file()["question"]


def likeliest_topics(intent_ranking: Iterable[Dict[str, Any]]) -> List[str]:
    """Up to three offerable intents, best first, padded with common topics."""
    labels = _topics_file()["topics"]
    ranked = [item.get("name") for item in intent_ranking or [] if isinstance(item, dict)]
    chosen = [name for name in ranked if name in labels][:MAX_TOPICS]
    for name in labels:
        if len(chosen) == MAX_TOPICS:
            break
        if name not in chosen:
            chosen.append(name)
    return chosen


def clarification_buttons(intent_ranking: Iterable[Dict[str, Any]]) -> List[Dict[str, str]]:
    labels = _topics_file()["topics"]
    buttons = [
        {"title": labels[name], "payload": f"/{name}"}
        for name in likeliest_topics(intent_ranking)
    ]
    buttons.append({"title": _topics_file()["none_of_these"], "payload": NONE_OF_THESE_PAYLOAD})
    return buttons


def topic_label(intent: str) -> str:
    """The user-facing name of a topic ("退款/退货" for refund); the intent itself if it has none."""
    return _topics_file()["topics"].get(intent, intent)
