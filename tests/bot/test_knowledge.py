"""bot/knowledge: every knowledge file has a name, is read once, and reads as the file says."""
from __future__ import annotations

import hashlib
import string

import pytest

from bot import knowledge
from bot.knowledge.texts import reply_text
from bot.services.replies import reply


def test_every_yaml_file_of_the_folder_has_a_name_and_every_name_a_file():
    on_disk = {path.relative_to(knowledge.KNOWLEDGE_DIR).as_posix() for path in knowledge.KNOWLEDGE_DIR.rglob("*.yml")}
    assert set(knowledge.FILES.values()) == on_disk


@pytest.mark.parametrize("name", sorted(knowledge.FILES))
def test_each_file_is_read_once_and_as_it_is(name):
    assert knowledge.load(name) is knowledge.load(name)
    assert knowledge.load(name) == knowledge.read(knowledge.path(name))


def test_an_unknown_name_says_which_names_there_are():
    with pytest.raises(KeyError, match="facts"):
        knowledge.path("fact")


def test_fingerprint_hashes_the_files_in_the_order_given():
    both = knowledge.path("chat_slang").read_bytes() + knowledge.path("greetings").read_bytes()
    assert knowledge.fingerprint("chat_slang", "greetings") == hashlib.sha256(both).hexdigest()


@pytest.mark.parametrize("name", sorted(knowledge.load("replies")))
def test_a_replys_text_is_the_text_of_the_whole_message(name):
    entry = knowledge.load("replies")[name]
    text = entry if isinstance(entry, str) else entry["text"]
    # Every placeholder gets a value; user text in one (「{hotline}」) stays as it is.
    values = {field: f"<{field}>" for _, field, _, _ in string.Formatter().parse(text) if field}
    values["then"] = "{hotline}"
    assert reply_text(name, **values) == reply(name, **values)["text"]
