"""Is a shopper's message frustrated, and does it name what it is about?

Cues and subject words are data (bot/knowledge/frustration.yml). The NLU
component marks frustrated messages with a ``frustration`` entity whose value
is the kind of cue (insult, threat, impatience, exasperation); the dialogue
policy and the report read that entity.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from bot import knowledge

ENTITY = "frustration"
# Entities that name an order or a parcel: the message has a subject.
SUBJECT_ENTITIES = ("order_id", "tracking_number")


@dataclass(frozen=True)
class Cue:
    kind: str
    start: int
    end: int
    text: str

    def as_rasa_entity(self) -> dict[str, Any]:
        return {
            "entity": ENTITY,
            "value": self.kind,
            "start": self.start,
            "end": self.end,
            "confidence_entity": 1.0,
        }


class FrustrationLexicon:
    def __init__(
        self,
        cues: dict[str, Iterable[str]],
        subject_words: Iterable[str],
        weak_kinds: Iterable[str] = (),
        polite_markers: Iterable[str] = (),
    ) -> None:
        self._weak_kinds = frozenset(weak_kinds)
        self._polite_markers = tuple(polite_markers)
        # Compiled one by one: a cue may refer back to its own group ("差评差评差评").
        self._cues: list[tuple[str, re.Pattern]] = [
            (kind, re.compile(pattern, re.IGNORECASE)) for kind, patterns in cues.items() for pattern in patterns
        ]
        self._subject_words = tuple(subject_words)

    def first_cue(self, text: str) -> Optional[Cue]:
        """The earliest cue in ``text``, or None when it reads calm."""
        text = text or ""
        polite = any(marker in text for marker in self._polite_markers)
        found = [
            Cue(kind, match.start(), match.end(), match.group(0))
            for kind, pattern in self._cues
            if not (polite and kind in self._weak_kinds)
            for match in [pattern.search(text)]
            if match
        ]
        return min(found, key=lambda cue: cue.start) if found else None

    def names_a_subject(self, text: str) -> bool:
        return any(word in (text or "") for word in self._subject_words)


@functools.cache
def frustration_lexicon() -> FrustrationLexicon:
    data = knowledge.load("frustration")
    return FrustrationLexicon(
        data["cues"], data["subject_words"], data.get("weak_kinds", ()), data.get("polite_markers", ())
    )


def is_frustrated(parse_data: Optional[dict[str, Any]]) -> bool:
    """Whether a parsed user message carries the frustration entity."""
    entities = (parse_data or {}).get("entities") or []
    return any(entity.get("entity") == ENTITY for entity in entities)


def has_subject(parse_data: Optional[dict[str, Any]]) -> bool:
    """Whether a parsed message names an order, a parcel or a case word."""
    entities = (parse_data or {}).get("entities") or []
    if any(entity.get("entity") in SUBJECT_ENTITIES for entity in entities):
        return True
    return frustration_lexicon().names_a_subject((parse_data or {}).get("text") or "")


# The cases an angry shopper's message can go on with; anything else goes to a person.
CASE_INTENTS = ("refund", "logistics", "complaint", "fraud_check", "ticket_status", "rate")
PERSON, CASE = "person", "case"
# The second frustrated message of a session goes to a person, even inside a case.
ESCALATE_AT = 2


def route(intent: Optional[str], parse_data: Optional[dict[str, Any]], frustrated_messages: int, in_form: bool) -> str:
    """Where a frustrated message goes: straight to a person, or on with its case.

    A case needs a subject: a case intent (a complaint must also name what
    it is about: 「快递员态度太差了」, not 「垃圾客服」), or an answer to the
    question a form is asking.
    """
    if frustrated_messages >= ESCALATE_AT:
        return PERSON
    if in_form and intent not in ("request_human", "deny", "goodbye"):
        return CASE
    if intent == "complaint":
        return CASE if has_subject(parse_data) else PERSON
    return CASE if intent in CASE_INTENTS else PERSON
