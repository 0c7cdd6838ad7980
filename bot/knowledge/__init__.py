"""What the bot knows as data: the YAML files in this folder, each read once.

Every layer reads them the same way, through :func:`load`::

    knowledge.load("facts")["hotlines"]["shopper"]
    knowledge.load("robustness/homophones")["words"]

:data:`FILES` is the one list of them; :func:`path` is where one lives (for a
component's ``fingerprint_addon`` or its default config) and
:func:`fingerprint` hashes some of them. The files are read as they are: what
each means is up to the module that uses it. This package imports nothing of
``bot`` but :mod:`bot.settings`, so every layer may use it.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Union

import yaml

KNOWLEDGE_DIR = Path(__file__).parent
# jieba's user dictionaries (*.txt), for the tokenizer and the entity rules.
DICTIONARY_DIR = KNOWLEDGE_DIR / "dictionary"

# Name -> file, relative to this folder.
FILES = {
    # The article's facts: hotlines, hours, paths (knowledge.texts fills them into replies).
    "facts": "facts.yml",
    # What the action server says (bot.services.replies).
    "replies": "replies.yml",
    # The cases' rules of thumb and the ticket wording (bot.services).
    "cases": "cases.yml",
    # Topics the clarification question offers, and their labels.
    "topics": "topics.yml",
    # Entity rules (bot.entities) and the channels' own texts.
    "entity_patterns": "entity_patterns.yml",
    "channel_texts": "channel_texts.yml",
    # The demo order system (bot.stores.orders).
    "demo_orders": "demo_orders.yml",
    # Lexicons of the NLU components.
    "greetings": "greetings.yml",
    "frustration": "frustration.yml",
    "chat_slang": "chat_slang.yml",
    # Word lists of the robustness suite (bot.evaluation.robustness).
    "robustness/english_words": "robustness/english_words.yml",
    "robustness/fragments": "robustness/fragments.yml",
    "robustness/greetings": "robustness/greetings.yml",
    "robustness/homophones": "robustness/homophones.yml",
    "robustness/venting": "robustness/venting.yml",
}


def path(name: str) -> Path:
    """The file of knowledge ``name`` (a key of :data:`FILES`)."""
    try:
        return KNOWLEDGE_DIR / FILES[name]
    except KeyError:
        raise KeyError(f"no knowledge file {name!r}; known: {', '.join(sorted(FILES))}") from None


@functools.cache
def load(name: str) -> Any:
    """The content of knowledge ``name``, read once per process (do not change it)."""
    return read(path(name))


def read(file: Union[str, Path]) -> Any:
    """A YAML file as it is now, not cached: a file a component's config names, a test's copy."""
    with Path(file).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def fingerprint(*names: str) -> str:
    """sha256 of the files' bytes, in the order given (for ``fingerprint_addon``)."""
    return hashlib.sha256(b"".join(path(name).read_bytes() for name in names)).hexdigest()
