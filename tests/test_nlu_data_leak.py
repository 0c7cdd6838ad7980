"""The held-out sets must not repeat the training data, nor themselves.

A held-out message that also stands in the training data (every NLU file under
data/) is scored on what the model was trained on, and a message given twice
counts twice. Two messages are the same when their ``leak_key`` is: after the
bot's normaliser (full width, traditional characters, invisible characters),
without whitespace, punctuation or symbols, case folded. So "你好 呀" and
"你好呀！" are one message, and so are "在嗎" and "在吗".

The files are read with Rasa's own loader, as training and ``make eval`` read
them.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from bot.evaluation.nlu import leak_key, nlu_files
from bot.settings import ROOT

TRAINING_DATA = ROOT / "data"
HELD_OUT_SETS = [ROOT / "tests" / "nlu_heldout.yml", ROOT / "tests" / "nlu_realistic.yml"]

Example = Tuple[str, str]  # (text, intent)


def _intent_examples(path: Path) -> List[Example]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [(example.get("text"), example.get("intent")) for example in load_data(str(path)).intent_examples]


@pytest.fixture(scope="module")
def training_keys() -> Dict[str, List[str]]:
    """leak_key → the training examples with it, as "text (intent, file)"."""
    logging.getLogger("rasa").setLevel(logging.ERROR)
    files = nlu_files(TRAINING_DATA)
    assert files, f"no NLU training files under {TRAINING_DATA}"
    keys: Dict[str, List[str]] = defaultdict(list)
    for file in files:
        for text, intent in _intent_examples(Path(file)):
            keys[leak_key(text)].append(f"{text!r} ({intent}, {Path(file).relative_to(ROOT)})")
    return keys


def _held_out(path: Path) -> List[Example]:
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} does not exist")
    examples = _intent_examples(path)
    assert examples, f"{path.relative_to(ROOT)} has no intent examples"
    return examples


@pytest.mark.parametrize("path", HELD_OUT_SETS, ids=lambda path: path.name)
def test_held_out_examples_are_not_in_the_training_data(path: Path, training_keys) -> None:
    leaked = [f"  {text!r} ({intent}) = {', '.join(training_keys[leak_key(text)])}"
              for text, intent in _held_out(path) if leak_key(text) in training_keys]
    assert not leaked, (f"{len(leaked)} examples of {path.relative_to(ROOT)} stand in the training data:\n"
                        + "\n".join(leaked))


@pytest.mark.parametrize("path", HELD_OUT_SETS, ids=lambda path: path.name)
def test_held_out_examples_are_not_repeated(path: Path) -> None:
    seen: Dict[str, Example] = {}
    repeated = []
    for text, intent in _held_out(path):
        key = leak_key(text)
        if key in seen:
            first_text, first_intent = seen[key]
            repeated.append(f"  {text!r} ({intent}) = {first_text!r} ({first_intent})")
        else:
            seen[key] = (text, intent)
    assert not repeated, (f"{len(repeated)} examples of {path.relative_to(ROOT)} repeat an earlier one:\n"
                          + "\n".join(repeated))


@pytest.mark.parametrize("first, second", [
    ("你好 呀", "你好呀！"),
    ("您好 請問在嗎", "您好，请问在吗？"),
    ("到哪了😭", "到哪了"),
    ("轉人工", "转人工"),
    ("ＯＫ", "ok"),
    ("人工!!!", "人工"),
    ("订\u200b单", "订单"),
])
def test_leak_key_treats_these_as_one_message(first: str, second: str) -> None:
    assert leak_key(first) == leak_key(second)


def test_leak_key_keeps_different_messages_apart() -> None:
    assert leak_key("我要退款") != leak_key("我想退款")
