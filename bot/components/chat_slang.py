"""NLU component: whole messages in chat slang (「886」, 「3q」) get their intent."""
from __future__ import annotations

import functools
import hashlib
import re
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.facts import KNOWLEDGE_DIR

SLANG_FILE = KNOWLEDGE_DIR / "chat_slang.yml"
_IGNORED = re.compile(r"[\s!?.,~。，！？～]+|[啦哈呀]$")


def _key(text: str) -> str:
    return _IGNORED.sub("", (text or "").lower())


@functools.lru_cache(maxsize=None)
def slang_intents() -> Dict[str, str]:
    """Slang message (as :func:`_key` reads it) -> intent."""
    with SLANG_FILE.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {_key(str(phrase)): intent for intent, phrases in data.items() for phrase in phrases}


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class ChatSlangClassifier(GraphComponent):
    """Overrides the classifier for whole-message chat slang.

    「886」 looks like the start of an order number to a model of characters;
    a shopper means bye. Placed after DIET, it puts the slang's intent on top
    with full confidence and leaves every other message alone.
    """

    def __init__(self, intents: Dict[str, str]) -> None:
        self._intents = intents

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ChatSlangClassifier":
        return cls(slang_intents())

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        return hashlib.sha256(SLANG_FILE.read_bytes()).hexdigest()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = self._intents.get(_key(message.get(TEXT) or ""))
            if intent:
                self._set_intent(message, intent)
        return messages

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
