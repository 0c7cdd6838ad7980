"""Deciding how a complaint is handled: is it said yet, is it priority."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from bot import knowledge
from bot.services.replies import reply
from bot.services.rules import priority_amount_yuan

_CHINESE_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def is_too_vague(text: str) -> bool:
    """ "我要投诉" says nothing yet; "商家发了假货还不退款" does."""
    rules = knowledge.load("cases")["complaint"]
    remainder = re.sub(r"[\W_]", "", text or "")
    for word in sorted(rules["vague_words"], key=len, reverse=True):
        remainder = remainder.replace(word, "")
    return len(remainder) < rules["min_description_chars"]


def is_priority(safety_signals: Iterable[str], amounts: Iterable[Optional[Decimal]]) -> bool:
    """Food safety, health or product safety, or more money than the threshold."""
    if any(safety_signals):
        return True
    threshold = Decimal(str(priority_amount_yuan()))
    return any(amount is not None and amount > threshold for amount in amounts)


HEALTH_SIGNAL = "健康伤害"


def priority_acknowledgement(
    safety_signals: Iterable[str], amounts: Iterable[Optional[Decimal]]
) -> Optional[dict[str, Any]]:
    """The priority promise said before the order question, or None for an ordinary complaint."""
    signals = list(safety_signals)
    if not is_priority(signals, amounts):
        return None
    advice = knowledge.load("replies")["complaint_health_advice"] if HEALTH_SIGNAL in signals else ""
    return reply("complaint_priority_ack", health_advice=advice)


def amount_in_yuan(value: str) -> Optional[Decimal]:
    """An amount entity's value ("1299.5", "3万", "五百") in yuan; None when unreadable."""
    text = (value or "").replace(",", "").strip()
    multiplier = Decimal(1)
    if text.endswith("万") and len(text) > 1 and text[:-1].replace(".", "", 1).isdigit():
        text, multiplier = text[:-1], Decimal(10000)
    try:
        return Decimal(text) * multiplier
    except InvalidOperation:
        number = _chinese_number(text)
        return Decimal(number) if number is not None else None


def _chinese_number(text: str) -> Optional[int]:
    if not text or any(char not in _CHINESE_DIGITS and char not in _CHINESE_UNITS for char in text):
        return None
    total, section, digit = 0, 0, 0
    for char in text:
        if char in _CHINESE_DIGITS:
            digit = _CHINESE_DIGITS[char]
        elif char == "万":
            total += (section + digit) * 10000
            section, digit = 0, 0
        else:
            section += (digit or 1) * _CHINESE_UNITS[char]
            digit = 0
    return total + section + digit
