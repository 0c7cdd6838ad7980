"""Where the greeting ends and the request starts, in a shopper's message.

Shoppers glue greetings to requests: 「您好 人工」, 「人工客服 在不在呀」,
「哈喽 有人工吗」. :func:`request_span` finds the part of a message that is
not greeting; the NLU then classifies that part alone, so the request wins
and a greeting is only a message that is nothing but a greeting. The words
are data: bot/knowledge/greetings.yml.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

from bot import knowledge


@dataclass(frozen=True)
class GreetingLexicon:
    phrases: tuple[str, ...]  # longest first, lower case
    cut_words: tuple[str, ...]  # greetings and courtesies (「谢谢」), longest first
    single_characters: frozenset
    particles: frozenset
    openers: tuple[str, ...]  # longest first

    @classmethod
    def from_mapping(cls, data: dict) -> GreetingLexicon:
        return cls(
            phrases=_longest_first(phrase.lower() for phrase in data["phrases"]),
            cut_words=_longest_first(word.lower() for word in [*data["phrases"], *data.get("courtesies", [])]),
            single_characters=frozenset(data.get("single_characters", [])),
            particles=frozenset(data.get("particles", "")),
            openers=_longest_first(data.get("openers", [])),
        )

    def request_span(self, text: str) -> Optional[tuple[int, int]]:
        """(start, end) of what ``text`` asks besides its greetings.

        None when there is nothing to cut: no greeting at either end, or
        nothing but greetings and openers ("你好 我想咨询一下" asks nothing yet).
        """
        lowered = text.lower()
        start = self._after_leading_greetings(lowered, self.cut_words)
        end = self._before_trailing_greetings(lowered, start, self.cut_words)
        if (start, end) == (0, len(text)) or self._only_openers(lowered[start:end]):
            return None
        return start, end

    def is_only_greeting(self, text: str) -> bool:
        """Nothing but greetings and openers, with at least one greeting (「在吗 急事」)."""
        lowered = text.lower()
        start = self._after_leading_greetings(lowered, self.phrases)
        end = self._before_trailing_greetings(lowered, start, self.phrases)
        first = self._skip_separators(lowered, 0)
        greeted = (
            start > 0
            or end < len(lowered)
            or (first < len(lowered) and self._greeting_at(lowered, first, self.phrases) > 0)
        )
        return greeted and self._only_openers(lowered[start:end])

    def _is_separator(self, char: str) -> bool:
        return char.isspace() or char in self.particles or unicodedata.category(char)[0] in "PS"

    def _after_leading_greetings(self, text: str, words: tuple[str, ...]) -> int:
        position, cut = 0, 0
        while position < len(text):
            length = self._greeting_at(text, position, words)
            if length:
                position = cut = position + length
            elif self._is_separator(text[position]):
                position += 1
            else:
                break
        return self._skip_separators(text, cut) if cut else 0

    def _before_trailing_greetings(self, text: str, floor: int, words: tuple[str, ...]) -> int:
        position, cut = len(text), len(text)
        while position > floor:
            length = self._greeting_ending_at(text, position, floor, words)
            if length:
                position = cut = position - length
            elif self._is_separator(text[position - 1]):
                position -= 1
            else:
                break
        if cut == len(text):
            return cut
        while cut > floor and self._is_separator(text[cut - 1]):
            cut -= 1
        return cut

    def _skip_separators(self, text: str, position: int) -> int:
        while position < len(text) and self._is_separator(text[position]):
            position += 1
        return position

    def _greeting_at(self, text: str, position: int, words: tuple[str, ...]) -> int:
        for phrase in words:
            if text.startswith(phrase, position) and not _glued_latin(text, position, position + len(phrase)):
                return len(phrase)
        char = text[position : position + 1]
        if char in self.single_characters and self._stands_alone(text, position):
            return 1
        return 0

    def _greeting_ending_at(self, text: str, end: int, floor: int, words: tuple[str, ...]) -> int:
        for phrase in words:
            start = end - len(phrase)
            if start >= floor and text.startswith(phrase, start) and not _glued_latin(text, start, end):
                return len(phrase)
        if end - 1 >= floor and text[end - 1] in self.single_characters and self._stands_alone(text, end - 1):
            return 1
        return 0

    def _stands_alone(self, text: str, position: int) -> bool:
        before = text[position - 1] if position > 0 else " "
        after = text[position + 1] if position + 1 < len(text) else " "
        return self._is_separator(before) and self._is_separator(after)

    def _only_openers(self, text: str) -> bool:
        position = self._skip_separators(text, 0)
        while position < len(text):
            opener = next((o for o in self.openers if text.startswith(o, position)), None)
            if opener is None:
                return False
            position = self._skip_separators(text, position + len(opener))
        return True


def _longest_first(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items), key=len, reverse=True))


def _glued_latin(text: str, start: int, end: int) -> bool:
    """ "hi" in "hipp" is no greeting: a Latin phrase needs a boundary."""
    if not text[start:end].isascii():
        return False
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return (before.isascii() and before.isalnum()) or (after.isascii() and after.isalnum())


@functools.cache
def greeting_lexicon() -> GreetingLexicon:
    return GreetingLexicon.from_mapping(knowledge.load("greetings"))
