"""Robustness suite: the held-out set rewritten the way shoppers really type.

Each transformation rewrites every held-out message in code (seeded, so the
same message always becomes the same text) and keeps its intent. The suite
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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import yaml

from bot.evaluation.nlu import Prediction, configured_thresholds, load_examples, scored_label, summarise

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "robustness"
HOMOPHONES_FILE = KNOWLEDGE_DIR / "homophones.yml"
ENGLISH_WORDS_FILE = KNOWLEDGE_DIR / "english_words.yml"
SEED = 42

FILLERS = ["那个", "就是", "请问", "嗯", "呃", "额", "那个那个", "我想问一下", "麻烦问下", "就是说"]
MID_FILLERS = ["就是", "那个", "然后", "嗯"]
EMOJI = ["😭", "🙏", "😡", "👍", "🤔", "😂", "💢", "🥺", "😤", "❤️", "😅", "🙄"]

Examples = Sequence[Tuple[str, str]]
Rewrite = Callable[[str, random.Random], str]


@dataclass(frozen=True)
class Transformation:
    name: str
    description: str
    rewrite: Rewrite


# --- the rewrites -----------------------------------------------------------

@functools.lru_cache(maxsize=None)
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


@functools.lru_cache(maxsize=None)
def load_word_variants(path: Path) -> Dict[str, Tuple[str, ...]]:
    words = yaml.safe_load(path.read_text(encoding="utf-8"))["words"]
    return {word: tuple(variants) for word, variants in words.items()}


def replace_one_word(text: str, variants: Dict[str, Tuple[str, ...]], rng: random.Random, spaced: bool) -> str:
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
    return _SPACES.sub(" ", text[:start] + replacement + text[start + len(word):]).strip()


def add_typo(text: str, rng: random.Random) -> str:
    return replace_one_word(text, load_word_variants(HOMOPHONES_FILE), rng, spaced=False)


def mix_english(text: str, rng: random.Random) -> str:
    return replace_one_word(text, load_word_variants(ENGLISH_WORDS_FILE), rng, spaced=True)


TRANSFORMATIONS: List[Transformation] = [
    Transformation("traditional", "traditional characters (OpenCC s2t)", to_traditional),
    Transformation("full_width", "full-width digits, letters, punctuation and spaces", to_full_width),
    Transformation("typo_homophone", "one typo or homophone (homophones.yml)", add_typo),
    Transformation("no_punctuation", "punctuation and clause-separating spaces dropped", drop_punctuation_rewrite),
    Transformation("filler", "filler words added (那个、就是、请问…)", add_filler),
    Transformation("emoji", "one to three emoji added", add_emoji),
    Transformation("english_mix", "one word in English (english_words.yml)", mix_english),
]


def transform_examples(examples: Examples, transformation: Transformation, seed: int = SEED) -> List[Tuple[str, str]]:
    """Each message rewritten with its own seeded generator, intents kept."""
    rewritten = []
    for index, (text, intent) in enumerate(examples):
        rng = random.Random(f"{seed}:{transformation.name}:{index}:{text}")
        rewritten.append((transformation.rewrite(text, rng), intent))
    return rewritten


# --- the report -------------------------------------------------------------

Predict = Callable[[Examples], List[Prediction]]


def accuracy(predictions: Sequence[Prediction], threshold: float, ambiguity: float) -> float:
    return summarise(predictions, threshold, ambiguity)["intent_accuracy"]


def newly_wrong(clean: Sequence[Prediction], rewritten: Sequence[Prediction],
                threshold: float, ambiguity: float) -> List[Dict]:
    """Messages understood when clean and misunderstood once rewritten."""
    def right(prediction: Prediction) -> bool:
        return scored_label(prediction.decide(threshold, ambiguity)) == prediction.gold

    return [
        {"clean": before.text, "rewritten": after.text, "gold": after.gold,
         "predicted": after.decide(threshold, ambiguity)}
        for before, after in zip(clean, rewritten)
        if right(before) and not right(after)
    ]


def robustness_report(predict: Predict, examples: Examples, threshold: float, ambiguity: float,
                      transformations: Sequence[Transformation] = TRANSFORMATIONS) -> Dict:
    """Accuracy on the clean and each rewritten set; drops in points (clean minus rewritten)."""
    clean = predict(examples)
    clean_accuracy = accuracy(clean, threshold, ambiguity)
    rows = []
    for transformation in transformations:
        rewritten = transform_examples(examples, transformation)
        changed = [i for i, (old, new) in enumerate(zip(examples, rewritten)) if old[0] != new[0]]
        predictions = predict(rewritten)
        transformed_accuracy = accuracy(predictions, threshold, ambiguity)
        rows.append({
            "transformation": transformation.name,
            "description": transformation.description,
            "changed_messages": len(changed),
            "accuracy": transformed_accuracy,
            "drop_points": round(100 * (clean_accuracy - transformed_accuracy), 2),
            # The same comparison on the messages the rewrite actually touched.
            "changed_clean_accuracy": accuracy([clean[i] for i in changed], threshold, ambiguity),
            "changed_accuracy": accuracy([predictions[i] for i in changed], threshold, ambiguity),
            "newly_wrong": newly_wrong(clean, predictions, threshold, ambiguity),
        })
    return {"examples": len(examples), "clean_accuracy": clean_accuracy, "transformations": rows}


def markdown_table(report: Dict) -> str:
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


def main(argv: Sequence[str] = None) -> int:
    from bot.evaluation.benchmark import standalone_arguments

    args = standalone_arguments(__doc__.splitlines()[0], argv)
    threshold, ambiguity = configured_thresholds(args.config)
    report = robustness_report(model_predictor(args.model), load_examples(args.data), threshold, ambiguity)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "robustness.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(markdown_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
