"""Rule-based entity matching on a blank Chinese spaCy pipeline.

The rules are data (bot/knowledge/entity_patterns.yml): phrase lists matched on
jieba tokens by spaCy's EntityRuler, and regular expressions for numbers
(orders, parcels, phones, amounts) aligned to the same document. Used by the
NLU pipeline component and directly by services (fraud scoring).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from bot import knowledge
from bot.knowledge import DICTIONARY_DIR

_DIGIT_SEPARATORS = re.compile(r"[\s-]")


@dataclass(frozen=True)
class EntityMatch:
    entity: str
    value: str
    start: int
    end: int
    text: str

    def as_rasa_entity(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "confidence_entity": 1.0,
        }


@dataclass(frozen=True)
class _RegexRule:
    label: str
    pattern: re.Pattern


class RuleEntityMatcher:
    """Finds order ids, tracking numbers, phones, amounts and fraud signals."""

    def __init__(self, patterns: dict[str, Any], dictionary_dir: Optional[Path] = None) -> None:
        _load_jieba_dictionary(dictionary_dir)
        self._nlp = _blank_chinese_pipeline()
        # LOWER: "Zoom", "zoom" and "ZOOM" are the same signal.
        ruler = self._nlp.add_pipe("entity_ruler", config={"overwrite_ents": True, "phrase_matcher_attr": "LOWER"})
        ruler.add_patterns(list(_phrase_patterns(patterns.get("phrases", {}))))
        self._regex_rules = _compile_regex_rules(patterns)

    def extract(self, text: str) -> list[EntityMatch]:
        if not text or not text.strip():
            return []
        doc = self._nlp(text)
        matches = [
            EntityMatch(ent.label_, ent.ent_id_ or ent.text, ent.start_char, ent.end_char, ent.text) for ent in doc.ents
        ]
        matches.extend(self._regex_matches(text))
        return _without_overlaps(matches)

    def _regex_matches(self, text: str) -> Iterable[EntityMatch]:
        return _regex_matches(self._regex_rules, text)


def _compile_regex_rules(patterns: dict[str, Any]) -> list[_RegexRule]:
    return [_RegexRule(rule["label"], re.compile(rule["pattern"], re.IGNORECASE)) for rule in patterns.get("regex", [])]


def _regex_matches(rules: Iterable[_RegexRule], text: str) -> Iterable[EntityMatch]:
    for rule in rules:
        for found in rule.pattern.finditer(text):
            group = "value" if "value" in rule.pattern.groupindex else 0
            start, end = found.span(group)
            raw = found.group(group)
            yield EntityMatch(rule.label, _canonical_value(rule.label, raw), start, end, raw)


def number_entities(text: str, labels: Iterable[str]) -> list[EntityMatch]:
    """The regex entities (orders, parcels, phones, amounts) with ``labels``.

    Needs no spaCy pipeline, so the action server reads numbers cheaply.
    """
    wanted = set(labels)
    rules = [rule for rule in _project_regex_rules() if rule.label in wanted]
    return _without_overlaps(list(_regex_matches(rules, text or "")))


@functools.cache
def _project_regex_rules() -> list[_RegexRule]:
    return _compile_regex_rules(load_patterns())


def _canonical_value(label: str, raw: str) -> str:
    if label in {"phone_number", "tracking_number"}:
        return _DIGIT_SEPARATORS.sub("", raw).upper()
    if label == "amount":
        return raw.replace(",", "").replace(" ", "")
    return raw


def _without_overlaps(matches: list[EntityMatch]) -> list[EntityMatch]:
    """Keep the longest match where matches overlap, then order by position."""
    kept: list[EntityMatch] = []
    for match in sorted(matches, key=lambda m: (-(m.end - m.start), m.start)):
        if all(match.end <= other.start or match.start >= other.end for other in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


def _phrase_patterns(phrases: dict[str, dict[str, list[str]]]) -> Iterable[dict[str, str]]:
    for label, values in phrases.items():
        for canonical, variants in values.items():
            for variant in {canonical, *variants}:
                yield {"label": label, "pattern": variant, "id": canonical}


def _blank_chinese_pipeline():
    import spacy

    return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})


def _load_jieba_dictionary(dictionary_dir: Optional[Path]) -> None:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    if dictionary_dir is None:
        return
    for path in sorted(Path(dictionary_dir).glob("*.txt")):
        jieba.load_userdict(str(path))


def load_patterns(path: Optional[Union[str, Path]] = None) -> dict[str, Any]:
    """The project's rules (entity_patterns.yml), or those of the file ``path``."""
    return knowledge.load("entity_patterns") if path is None else knowledge.read(path)


@functools.cache
def default_matcher() -> RuleEntityMatcher:
    """The matcher built from the project's pattern and dictionary files."""
    return RuleEntityMatcher(load_patterns(), DICTIONARY_DIR)
