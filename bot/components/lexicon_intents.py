"""NLU component: whole messages a lexicon knows (「886」, 「3q」, 「在吗 亲」) get their intent."""

from __future__ import annotations

import functools
import re
from typing import Any, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import greetings, knowledge

_IGNORED = re.compile(r"[\s!?.,~。，！？～]+")
_TRAILING_PARTICLES = re.compile(r"[了啦哈呀咯]+$")
# 「闪了闪了」, 「拜拜 拜拜」: the same slang said two or three times.
_REPEATED = re.compile(r"^(.+?)\1{1,2}$")


def _key(text: str) -> str:
    key = _IGNORED.sub("", (text or "").lower())
    repeated = _REPEATED.match(key)
    if repeated and len(repeated.group(1)) > 1:
        key = repeated.group(1)
    return _TRAILING_PARTICLES.sub("", key) or key


@functools.cache
def slang_intents() -> dict[str, str]:
    """Slang message (as :func:`_key` reads it) -> intent."""
    data = knowledge.load("chat_slang")
    return {_key(str(phrase)): intent for intent, phrases in data.items() for phrase in phrases}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class LexiconIntentClassifier(GraphComponent):
    """Overrides the classifier for whole messages that a lexicon knows.

    「886」 looks like the start of an order number to a model of characters;
    a shopper means bye (chat_slang.yml). A message of nothing but greetings
    (greetings.yml: 「早安呀」, 「客服在吗 急事」) is a greeting however it is
    spelt. Placed after DIET, it puts that intent on top with full confidence
    and leaves every other message alone.
    """

    GREETING_INTENT = "greet"

    def __init__(self, intents: dict[str, str], greeting_lexicon: greetings.GreetingLexicon) -> None:
        self._intents = intents
        self._greetings = greeting_lexicon

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LexiconIntentClassifier:
        return cls(slang_intents(), greetings.greeting_lexicon())

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> Optional[str]:
        return knowledge.fingerprint("chat_slang", "greetings")

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = self._intent_of(message.get(TEXT) or "")
            if intent:
                self._set_intent(message, intent)
        return messages

    def _intent_of(self, text: str) -> Optional[str]:
        slang = self._intents.get(_key(text))
        if slang:
            return slang
        return self.GREETING_INTENT if text and self._greetings.is_only_greeting(text) else None

    @staticmethod
    def _set_intent(message: Message, intent: str) -> None:
        top = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
        others = [
            {**item, PREDICTED_CONFIDENCE_KEY: 0.0}
            for item in message.get(INTENT_RANKING_KEY) or []
            if item.get(INTENT_NAME_KEY) != intent
        ]
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [top] + others, add_to_output=True)
