"""Secrets users type (bank cards, verification codes, passwords, ID cards, CVV), found and masked.

Shoppers paste their card number or the code a "customer service" caller
asked for. The bot must never keep them: every user message is masked here
before the NLU, the tracker store, tickets, logs or the event broker see it,
and the user is told not to share such things with anyone.

Masking keeps what identifies the thing for the user (6222 **** **** 5679)
and is idempotent: masking a masked text changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

BANK_CARD = "bank_card"
ID_CARD = "id_card"
VERIFICATION_CODE = "verification_code"
PASSWORD = "password"
CVV = "cvv"

MASK = "*"
# 16-19 digits in a row, or written in groups of four: how card numbers are
# copied. Not inside a longer run of digits (an order number without its
# dash has 21); tracking numbers carry at most 15 digits.
_CARD = re.compile(r"(?<![0-9*])(\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?|\d{16,19})(?![0-9*])")
_ID_CARD = re.compile(r"(?<![0-9*])(\d{17}[\dXx])(?![0-9*])")
_CODE_WORDS = r"(?:验证码|校验码|动态码|短信码|確認碼|验证码是|code|otp)"
_CODE_AFTER_WORD = re.compile(_CODE_WORDS + r"[^0-9\n]{0,6}(?<![0-9])(\d{4,8})(?![0-9])", re.IGNORECASE)
# Not the last group of a card masked just before ("6222 **** **** 7894和验证码").
_CODE_BEFORE_WORD = re.compile(
    r"(?<![0-9*])(?<!\* )(\d{4,8})(?![0-9])[^0-9\n]{0,4}(?:是)?" + _CODE_WORDS, re.IGNORECASE
)
_CODE_ALONE = re.compile(r"^\s*(\d{6})\s*$")
# Passwords are typed in ASCII; "密码怎么办" is a question, not a password.
_PASSWORD = re.compile(
    r"(?:密码|口令|password|passwd|pwd)\s*(?:是|为|:|：|=)?\s*([A-Za-z0-9!@#$%^&*()_+\-=.?~]{4,64})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_CVV = re.compile(
    r"(?:cvv2?|cvc2?|安全码|卡背后三位|背面三位|后三位码)\s*(?:是|为|:|：)?\s*(\d{3,4})(?![0-9])", re.IGNORECASE
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class MaskResult:
    text: str
    found: tuple[str, ...]  # kinds found, in the order of the detectors

    @property
    def had_secrets(self) -> bool:
        return bool(self.found)


def mask_secrets(text: str) -> MaskResult:
    """``text`` with every secret masked, and the kinds of secret found."""
    found: list[str] = []
    for kind, pattern, is_secret, masker in _DETECTORS:
        text, count = _mask_matches(text, pattern, is_secret, masker)
        if count and kind not in found:
            found.append(kind)
    return MaskResult(text, tuple(found))


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def id_card_valid(number: str) -> bool:
    """An 18-character mainland ID number: a real birth date and the right check character."""
    if not re.fullmatch(r"\d{17}[\dXx]", number):
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _mask_matches(
    text: str, pattern: re.Pattern, is_secret: Callable[[str], bool], masker: Callable[[str], str]
) -> tuple[str, int]:
    count = 0

    def replace(match: re.Match) -> str:
        nonlocal count
        value = match.group(1)
        if not is_secret(value):
            return match.group(0)
        count += 1
        start, end = match.span(1)
        whole_start = match.start(0)
        return match.group(0)[: start - whole_start] + masker(value) + match.group(0)[end - whole_start :]

    return pattern.sub(replace, text), count


def _is_card(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return 16 <= len(digits) <= 19 and luhn_valid(digits)


def _mask_card(value: str) -> str:
    """6222 **** **** 5679: first four and last four kept, in groups of four."""
    digits = re.sub(r"\D", "", value)
    middle = MASK * (len(digits) - 8)
    groups = [digits[:4]] + [middle[i : i + 4] for i in range(0, len(middle), 4)] + [digits[-4:]]
    return " ".join(groups)


def _mask_id(value: str) -> str:
    return value[:3] + MASK * 11 + value[-4:]


def _mask_all(value: str) -> str:
    return MASK * len(value)


def _always(_: str) -> bool:
    return True


def _not_already_masked(value: str) -> bool:
    return set(value) != {MASK}


_DETECTORS = (
    (ID_CARD, _ID_CARD, id_card_valid, _mask_id),
    (BANK_CARD, _CARD, _is_card, _mask_card),
    (CVV, _CVV, _always, _mask_all),
    (VERIFICATION_CODE, _CODE_AFTER_WORD, _always, _mask_all),
    (VERIFICATION_CODE, _CODE_BEFORE_WORD, _always, _mask_all),
    (VERIFICATION_CODE, _CODE_ALONE, _always, _mask_all),
    (PASSWORD, _PASSWORD, _not_already_masked, _mask_all),
)
