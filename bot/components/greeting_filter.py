"""NLU component: a greeting glued to a request does not steer the intent."""

from __future__ import annotations

from typing import Any, Optional

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import greetings, knowledge
from bot.components.message_rewriter import MessageRewriter


# Registered as a featurizer so the recipe runs it in config order, right
# after the tokenizer, on training data and incoming messages alike.
@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class GreetingFilter(MessageRewriter):
    """Drops the greeting's tokens when the message asks something besides it.

    「您好 人工」 is classified on 「人工」, 「人工客服 在不在呀」 on 「人工客服」;
    「你好」 and 「在吗 我想咨询一下」 keep all their tokens and stay greetings.
    The text itself is untouched, so entities, slots and what is stored in
    the conversation still see the whole message. Words: greetings.yml.
    """

    def __init__(self, lexicon: greetings.GreetingLexicon) -> None:
        self._lexicon = lexicon

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GreetingFilter:
        return cls(greetings.greeting_lexicon())

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> Optional[str]:
        # New greeting words change what the classifier was trained on.
        return knowledge.fingerprint("greetings")

    def rewrite(self, message: Message) -> None:
        text, tokens = message.get(TEXT), message.get(TOKENS_NAMES[TEXT])
        if not isinstance(text, str) or not tokens:
            return
        span = self._lexicon.request_span(text)
        if span is None:
            return
        start, end = span
        kept = [token for token in tokens if token.end > start and token.start < end]
        if kept:
            message.set(TOKENS_NAMES[TEXT], kept)
