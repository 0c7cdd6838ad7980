"""Handing a conversation to a person: the summary they read, the callback number."""
from __future__ import annotations

import re
from typing import Iterable, Optional

from bot.entities import number_entities
from bot.text import normalize

SUMMARY_MESSAGES = 6
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
# Seven or more digits in a row, with the usual separators: someone typed a number.
_NUMBER_ATTEMPT = re.compile(r"\d[\d\s-]{5,}\d")


def handoff_summary(topic: Optional[str], order_reference: Optional[str], recent_texts: Iterable[str]) -> str:
    """What the agent reads first, so the user need not repeat themselves."""
    lines = [f"话题：{topic or '未识别'}", f"订单：{order_reference or '未提供'}", "最近的消息："]
    lines.extend(f"- {text}" for text in list(recent_texts)[-SUMMARY_MESSAGES:])
    return "\n".join(lines)


def callback_number(text: str) -> Optional[str]:
    """A mainland mobile or landline number in ``text``, digits only; None if there is none."""
    clean = normalize(text or "")
    for match in number_entities(clean, ("phone_number",)):
        digits = re.sub(r"\D", "", match.value)
        if _MOBILE.match(digits) or _LANDLINE.match(digits):
            return digits
    return None


def looks_like_a_number(text: str) -> bool:
    """The user typed a long run of digits (perhaps a mistyped phone number)."""
    return bool(_NUMBER_ATTEMPT.search(normalize(text or "")))


def masked_number(digits: str) -> str:
    """138****5678: enough to recognise, not enough to misuse."""
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
