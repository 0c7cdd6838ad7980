"""Robustness suite: the held-out set rewritten the way shoppers really type.

Each transformation rewrites every held-out message in code (seeded, so the
same message always becomes the same text) and keeps its intent; messages of
intents a rewrite would change the meaning of (a greeting glued onto a
greeting, anger onto a thank-you) are left as they are. The suite
reports intent accuracy on each rewritten set and the drop against the clean
set, in points. ``python -m bot.evaluation.robustness`` runs it on the trained
model (``models/triage.tar.gz``); ``make benchmark-nlu`` runs it for every
benchmarked system.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot import knowledge
from bot.evaluation.common import standalone_arguments
from bot.evaluation.nlu import Prediction, configured_thresholds, load_examples, scored_label, summarise

# The suite's word lists (bot/knowledge/robustness/), by knowledge name.
HOMOPHONES = "robustness/homophones"
ENGLISH_WORDS = "robustness/english_words"
GREETINGS = "robustness/greetings"
VENTING = "robustness/venting"
FRAGMENTS = "robustness/fragments"
SEED = 42

FILLERS = ["那个", "就是", "请问", "嗯", "呃", "额", "那个那个", "我想问一下", "麻烦问下", "就是说"]
MID_FILLERS = ["就是", "那个", "然后", "嗯"]
EMOJI = ["😭", "🙏", "😡", "👍", "🤔", "😂", "💢", "🥺", "😤", "❤️", "😅", "🙄"]

Examples = Sequence[tuple[str, str]]
Rewrite = Callable[[str, random.Random], str]


@dataclass(frozen=True)
class Transformation:
    name: str
    description: str
    rewrite: Rewrite
    # Messages of these intents stay as they are: the rewrite would change what they mean.
    skip_intents: frozenset[str] = frozenset()


# --- the rewrites -----------------------------------------------------------


@functools.cache
def _to_traditional_converter():
    import opencc

    # The reverse of the normaliser's "t2s": simplified to traditional characters.
    return opencc.OpenCC("s2t")


def to_traditional(text: str, rng: random.Random) -> str:
    return _to_traditional_converter().convert(text)


def to_full_width(text: str, rng: random.Random) -> str:
    """What a Chinese input method in full-width mode types: ＳＦ１２３, ideographic spaces."""
    chars = []
    for char in text:
        if char == " ":
            chars.append("\u3000")
        elif "!" <= char <= "~":
            chars.append(chr(ord(char) + 0xFEE0))
        else:
            chars.append(char)
    return "".join(chars)


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


_SPACE_NOT_BETWEEN_LATIN = re.compile(r"(?<![A-Za-z0-9])\s+|\s+(?![A-Za-z0-9])")


def drop_punctuation(text: str) -> str:
    """Punctuation out, and the spaces Chinese writers use as commas.

    A space between two Latin words ("customer service") stays: it separates
    words, not clauses.
    """
    text = "".join(char for char in text if not _is_punctuation(char))
    return _SPACE_NOT_BETWEEN_LATIN.sub("", text).strip()


def drop_punctuation_rewrite(text: str, rng: random.Random) -> str:
    return drop_punctuation(text)


_SPACES = re.compile(r" {2,}")
_CLAUSE_BOUNDARY = re.compile(r"[ ，,。！!？?；;]+")


def add_filler(text: str, rng: random.Random) -> str:
    """A filler in front (那个…), and every other time one after a clause boundary too."""
    text = rng.choice(FILLERS) + text
    boundaries = [match.end() for match in _CLAUSE_BOUNDARY.finditer(text) if match.end() < len(text)]
    if boundaries and rng.random() < 0.5:
        cut = rng.choice(boundaries)
        text = text[:cut] + rng.choice(MID_FILLERS) + text[cut:]
    return text


def add_emoji(text: str, rng: random.Random) -> str:
    """One to three emoji, mostly at the end, sometimes in front."""
    emoji = "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    return emoji + text if rng.random() < 0.3 else text + emoji


@functools.cache
def load_word_variants(name: str) -> dict[str, tuple[str, ...]]:
    """Word -> its variants, from the word list ``name`` (e.g. :data:`HOMOPHONES`)."""
    words = knowledge.load(name)["words"]
    return {word: tuple(variants) for word, variants in words.items()}


def replace_one_word(text: str, variants: dict[str, tuple[str, ...]], rng: random.Random, spaced: bool) -> str:
    """Swap one listed word the message contains (first occurrence) for one of its variants."""
    present = sorted(word for word in variants if word in text)
    if not present:
        return text
    word = rng.choice(present)
    replacement = rng.choice(variants[word])
    if spaced:
        # Latin words typed among Chinese characters usually get spaces around them.
        replacement = f" {replacement} "
    start = text.index(word)
    return _SPACES.sub(" ", text[:start] + replacement + text[start + len(word) :]).strip()


def add_typo(text: str, rng: random.Random) -> str:
    return replace_one_word(text, load_word_variants(HOMOPHONES), rng, spaced=False)


def mix_english(text: str, rng: random.Random) -> str:
    return replace_one_word(text, load_word_variants(ENGLISH_WORDS), rng, spaced=True)


@functools.cache
def load_phrases(name: str) -> dict[str, tuple[str, ...]]:
    """The phrase list ``name`` (a mapping of lists: ``before:``, ``after:``, ...) as tuples of strings."""
    data = knowledge.load(name)
    return {key: tuple(str(item) for item in items) for key, items in data.items()}


GLUE_SEPARATORS = (" ", "", "，")  # typed with a space, run together, or with a comma
GLUE_BEFORE_SHARE = 0.6


def glue_phrase(text: str, phrases: dict[str, tuple[str, ...]], rng: random.Random) -> str:
    """One phrase typed in front of the message (``before``) or after it (``after``)."""
    before = rng.random() < GLUE_BEFORE_SHARE
    phrase = rng.choice(phrases["before" if before else "after"])
    separator = rng.choice(GLUE_SEPARATORS)
    if all(_is_punctuation(char) for char in phrase):
        separator = ""  # 我要退款！！！
    elif not before and text and _is_punctuation(text[-1]) and separator == "，":
        separator = " "  # no 转人工！，在吗
    return phrase + separator + text if before else text + separator + phrase


def add_greeting(text: str, rng: random.Random) -> str:
    return glue_phrase(text, load_phrases(GREETINGS), rng)


def add_venting(text: str, rng: random.Random) -> str:
    return glue_phrase(text, load_phrases(VENTING), rng)


FRAGMENT_MIN_CHARS = 2


def _is_code_char(char: str) -> bool:
    """Digits and Latin letters: the characters of order numbers and tracking codes."""
    return char.isdigit() or "LATIN" in unicodedata.name(char, "")


def _punctuation_to_spaces(text: str) -> str:
    """Punctuation becomes a clause break, except inside codes (261115-3001, SF.12)."""
    chars = []
    for index, char in enumerate(text):
        inside_code = 0 < index < len(text) - 1 and _is_code_char(text[index - 1]) and _is_code_char(text[index + 1])
        chars.append(" " if _is_punctuation(char) and not inside_code else char)
    return "".join(chars)


def to_fragment(text: str, rng: random.Random) -> str:
    """The terse form: politeness, fillers, final particles and punctuation dropped (fragments.yml).

    Words listed under ``keep`` (一下子) are left whole. A message that would
    keep fewer than two characters stays as it is.
    """
    words = load_phrases(FRAGMENTS)
    terse = _punctuation_to_spaces(text)
    drop = sorted(words["drop"], key=len, reverse=True)
    keep = sorted(words.get("keep", ()), key=len, reverse=True)
    # Odd pieces are kept words, even ones the text between them.
    pieces = re.split("(" + "|".join(map(re.escape, keep)) + ")", terse) if keep else [terse]
    for index in range(0, len(pieces), 2):
        for word in drop:
            pieces[index] = pieces[index].replace(word, "")
    terse = "".join(pieces)
    particles = "".join(map(re.escape, words["particles"]))
    terse = re.sub(f"[{particles}]+(?=\\s|$)", "", terse)
    terse = re.sub(r"\s+", " ", terse).strip()
    if len(terse.replace(" ", "")) < FRAGMENT_MIN_CHARS:
        return text
    return terse


# A greeting glued onto a greeting is still one.
MULTI_INTENT_SKIPPED_INTENTS = frozenset({"greet"})
# A greeting's politeness is all of it: 您好客服 → 客服 would be a request.
FRAGMENTS_SKIPPED_INTENTS = frozenset({"greet"})
# Anger glued onto these would change what they say; case intents keep theirs.
VENTING_SKIPPED_INTENTS = frozenset(
    {"greet", "thank", "affirm", "goodbye", "rate", "inform", "deny", "resume_bot", "bot_challenge"}
)

TRANSFORMATIONS: list[Transformation] = [
    Transformation("traditional", "traditional characters (OpenCC s2t)", to_traditional),
    Transformation("full_width", "full-width digits, letters, punctuation and spaces", to_full_width),
    Transformation("typo_homophone", "one typo or homophone (homophones.yml)", add_typo),
    Transformation("no_punctuation", "punctuation and clause-separating spaces dropped", drop_punctuation_rewrite),
    Transformation("filler", "filler words added (那个、就是、请问…)", add_filler),
    Transformation("emoji", "one to three emoji added", add_emoji),
    Transformation("english_mix", "one word in English (english_words.yml)", mix_english),
    Transformation(
        "multi_intent",
        "a greeting before or after the request (greetings.yml; not greet)",
        add_greeting,
        MULTI_INTENT_SKIPPED_INTENTS,
    ),
    Transformation(
        "venting",
        "anger or impatience before or after (venting.yml; not on social, rate or inform turns)",
        add_venting,
        VENTING_SKIPPED_INTENTS,
    ),
    Transformation(
        "fragments",
        "terse: politeness, fillers, final particles, punctuation dropped (fragments.yml; not greet)",
        to_fragment,
        FRAGMENTS_SKIPPED_INTENTS,
    ),
]


def transform_examples(examples: Examples, transformation: Transformation, seed: int = SEED) -> list[tuple[str, str]]:
    """Each message rewritten with its own seeded generator, intents kept.

    Messages of the transformation's skipped intents come back unchanged.
    """
    rewritten = []
    for index, (text, intent) in enumerate(examples):
        if intent in transformation.skip_intents:
            rewritten.append((text, intent))
            continue
        rng = random.Random(f"{seed}:{transformation.name}:{index}:{text}")
        rewritten.append((transformation.rewrite(text, rng), intent))
    return rewritten


# --- the report -------------------------------------------------------------

Predict = Callable[[Examples], list[Prediction]]


def accuracy(predictions: Sequence[Prediction], threshold: float, ambiguity: float) -> float:
    return summarise(predictions, threshold, ambiguity)["intent_accuracy"]


def newly_wrong(
    clean: Sequence[Prediction], rewritten: Sequence[Prediction], threshold: float, ambiguity: float
) -> list[dict]:
    """Messages understood when clean and misunderstood once rewritten."""

    def right(prediction: Prediction) -> bool:
        return scored_label(prediction.decide(threshold, ambiguity)) == prediction.gold

    return [
        {
            "clean": before.text,
            "rewritten": after.text,
            "gold": after.gold,
            "predicted": after.decide(threshold, ambiguity),
        }
        for before, after in zip(clean, rewritten, strict=True)
        if right(before) and not right(after)
    ]


def robustness_report(
    predict: Predict,
    examples: Examples,
    threshold: float,
    ambiguity: float,
    transformations: Sequence[Transformation] = TRANSFORMATIONS,
) -> dict:
    """Accuracy on the clean and each rewritten set; drops in points (clean minus rewritten)."""
    clean = predict(examples)
    clean_accuracy = accuracy(clean, threshold, ambiguity)
    rows = []
    for transformation in transformations:
        rewritten = transform_examples(examples, transformation)
        changed = [i for i, (old, new) in enumerate(zip(examples, rewritten, strict=True)) if old[0] != new[0]]
        predictions = predict(rewritten)
        transformed_accuracy = accuracy(predictions, threshold, ambiguity)
        rows.append(
            {
                "transformation": transformation.name,
                "description": transformation.description,
                "changed_messages": len(changed),
                "accuracy": transformed_accuracy,
                "drop_points": round(100 * (clean_accuracy - transformed_accuracy), 2),
                # The same comparison on the messages the rewrite actually touched.
                "changed_clean_accuracy": accuracy([clean[i] for i in changed], threshold, ambiguity),
                "changed_accuracy": accuracy([predictions[i] for i in changed], threshold, ambiguity),
                "newly_wrong": newly_wrong(clean, predictions, threshold, ambiguity),
            }
        )
    return {"examples": len(examples), "clean_accuracy": clean_accuracy, "transformations": rows}


def markdown_table(report: dict) -> str:
    lines = [
        f"Clean held-out accuracy: {report['clean_accuracy']:.3f} ({report['examples']} messages)",
        "",
        "| transformation | messages changed | accuracy | drop (points) | changed only: clean → rewritten |",
        "|---|---|---|---|---|",
    ]
    for row in report["transformations"]:
        lines.append(
            f"| {row['description']} | {row['changed_messages']} | {row['accuracy']:.3f}"
            f" | {row['drop_points']:.1f} | {row['changed_clean_accuracy']:.3f} → {row['changed_accuracy']:.3f} |"
        )
    return "\n".join(lines)


def model_predictor(model_path: Path) -> Predict:
    from rasa.core.agent import Agent

    from bot.evaluation.nlu import predict_with_agent

    agent = Agent.load(str(model_path))
    return lambda examples: asyncio.run(predict_with_agent(agent, examples))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = standalone_arguments(__doc__.splitlines()[0], argv)
    threshold, ambiguity = configured_thresholds(args.config)
    report = robustness_report(model_predictor(args.model), load_examples(args.data), threshold, ambiguity)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "robustness.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(markdown_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
