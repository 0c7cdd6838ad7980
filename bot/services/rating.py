"""The one rating question after a case, and reading the answer."""

from __future__ import annotations

import re
from typing import Optional

from bot import knowledge
from bot.text import normalize

# 「⭐⭐⭐⭐」: as many stars as the score.
_STARS = re.compile(r"^[⭐★🌟]{1,5}$")
_CHINESE_SCORES = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


def parse_score(value: Optional[object]) -> Optional[int]:
    """1-5 from a button value or text such as "5", "4分", "五星"; None otherwise."""
    if value is None:
        return None
    text = str(value).strip()
    if _STARS.match(text):
        return len(text)
    found = re.search(r"(?<![0-9.])([1-5])(?:\.0)?(?![0-9.])", text) or re.search(
        r"([一二两三四五])\s*(?:分|星|颗星)", text
    )
    if not found:
        return None
    token = found.group(1)
    return int(token) if token.isdigit() else _CHINESE_SCORES[token]


# A reply that is nothing but a score: 「4」, 「４分」, 「五星」, 「给5分吧」.
_BARE_SCORE = re.compile(
    r"^(?:给|打)?\s*(?:[1-5]|[一二两三四五])\s*(?:分|星|颗星)?\s*(?:吧|啦|好评|哈|呀)?\s*[!.。！~]*$"
)


def is_bare_score(text: str) -> bool:
    """Whether ``text`` is only a 1-5 score, the answer to the rating question."""
    normalized = normalize(text or "")
    return bool(_BARE_SCORE.match(normalized) or _STARS.match(normalized))


def is_low(score: int) -> bool:
    return score <= knowledge.load("cases")["rating"]["low_score"]
