"""Scoring a suspicious contact the user describes.

The signals are the spaCy fraud_signal entities (bot/knowledge/entity_patterns.yml)
and the phone numbers mentioned. An official number is never proof: callers
can spoof it, so it is pointed out, not trusted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot import knowledge

HIGH, MEDIUM, LOW = "high", "medium", "low"


@dataclass(frozen=True)
class FraudAssessment:
    level: str
    signals: tuple[str, ...]
    official_numbers: tuple[str, ...]
    other_numbers: tuple[str, ...]
    money_lost: bool

    @property
    def label(self) -> str:
        return knowledge.load("cases")["fraud"]["level_labels"][self.level]


def assess(signals: Iterable[str], phone_numbers: Iterable[str], text: str) -> FraudAssessment:
    """Risk level from the signals' weights; numbers sorted into official and other."""
    found = _unique(signals)
    official, other = _split_numbers(phone_numbers)
    return FraudAssessment(
        level=_level(found),
        signals=tuple(found),
        official_numbers=tuple(official),
        other_numbers=tuple(other),
        money_lost=mentions_money_lost(text),
    )


def fraud_replies(assessment: FraudAssessment) -> list[tuple[str, dict[str, str]]]:
    """The replies (replies.yml) of a fraud check and their values, most urgent first."""
    messages: list[tuple[str, dict[str, str]]] = []
    if assessment.money_lost:
        messages.append(("fraud_money_lost", {}))
    messages.append(
        (f"fraud_{assessment.level}", {"risk_level": assessment.label, "fraud_signals": "、".join(assessment.signals)})
    )
    if assessment.official_numbers:
        messages.append(("fraud_official_number", {"phone_numbers": "、".join(assessment.official_numbers)}))
    if assessment.other_numbers:
        messages.append(("fraud_other_number", {"phone_numbers": "、".join(assessment.other_numbers)}))
    if assessment.level != LOW:
        messages.append(("fraud_next_steps", {}))
    return messages


def is_too_vague(text: str, signals: Iterable[str], phone_numbers: Iterable[str]) -> bool:
    """Nothing to judge yet: no signal, no number, and only a few words."""
    if list(signals) or list(phone_numbers):
        return False
    return len(re.sub(r"\W", "", text or "")) < knowledge.load("cases")["fraud"]["min_story_chars"]


def _level(signals: list[str]) -> str:
    rules = knowledge.load("cases")["fraud"]
    weights = [rules["weights"].get(signal, 1) for signal in signals]
    if any(weight >= rules["levels"]["high"] for weight in weights) or sum(weights) >= rules["levels"]["high"]:
        return HIGH
    if sum(weights) >= rules["levels"]["medium"]:
        return MEDIUM
    return LOW


def _split_numbers(numbers: Iterable[str]) -> tuple[list[str], list[str]]:
    official_digits = {_digits(number) for number in knowledge.load("facts")["hotlines"].values()}
    official: list[str] = []
    other: list[str] = []
    for number in _unique(numbers):
        (official if _digits(number) in official_digits else other).append(number)
    return official, other


def mentions_money_lost(text: str) -> bool:
    """The user says the money is already gone (cases.yml money_lost_phrases)."""
    return any(phrase in (text or "") for phrase in knowledge.load("cases")["fraud"]["money_lost_phrases"])


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def _unique(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen
