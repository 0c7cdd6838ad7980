"""Text normalisation shared by the NLU pipeline and the rest of the bot.

Shoppers type full-width digits (１２３), traditional characters (訂單),
stray control characters and odd spaces. Everything downstream (tokenizer,
features, entity rules) sees one canonical form.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import opencc

_FULL_WIDTH_OFFSET = 0xFEE0
_IDEOGRAPHIC_SPACE = "\u3000"
_WHITESPACE_RUN = re.compile(r"\s+")


@functools.cache
def _converter() -> opencc.OpenCC:
    # "t2s" maps traditional to simplified characters and common phrases.
    return opencc.OpenCC("t2s")


def to_half_width(text: str) -> str:
    """Full-width ASCII forms (Ｓ Ｆ １ ２ ！) to their ASCII twins."""
    chars = []
    for char in text:
        code = ord(char)
        if 0xFF01 <= code <= 0xFF5E:
            chars.append(chr(code - _FULL_WIDTH_OFFSET))
        elif char == _IDEOGRAPHIC_SPACE:
            chars.append(" ")
        else:
            chars.append(char)
    return "".join(chars)


def strip_invisible(text: str) -> str:
    """Format characters (bidi, zero-width) go; control and unassigned ones become spaces.

    Zero-width characters sit inside words (订\u200b单), so they are removed
    rather than turned into a space that would split the word.
    """
    return "".join(_visible(char) for char in text)


def _visible(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category in {"Cc", "Cs", "Co", "Cn"}:
        return " "
    return char


def to_simplified(text: str) -> str:
    return _converter().convert(text)


def normalize(text: str) -> str:
    """The canonical form of a user's message."""
    text = strip_invisible(to_half_width(text))
    text = to_simplified(text)
    return _WHITESPACE_RUN.sub(" ", text).strip()
