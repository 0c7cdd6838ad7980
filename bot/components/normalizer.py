"""A pipeline step that puts user text into canonical form before tokenizing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import text as text_utils
from bot.components.message_rewriter import MessageRewriter

ORIGINAL_TEXT = "original_text"
MAX_NLU_CHARS = 2000


# Registered as a featurizer so the recipe runs it, in config order, on both
# training data and incoming messages, ahead of the tokenizer.
@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class TextNormalizer(MessageRewriter):
    """Full-width to half-width, traditional to simplified, invisible characters out."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextNormalizer:
        return cls()

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> Optional[str]:
        # A change in the normalisation rules changes what the model was trained
        # on, so it must make `rasa train` retrain.
        source = Path(text_utils.__file__).read_bytes()
        return hashlib.sha256(source).hexdigest()

    def rewrite(self, message: Message) -> None:
        raw = message.get(TEXT)
        if not isinstance(raw, str):
            return
        message.set(ORIGINAL_TEXT, raw, add_to_output=False)
        # The channels already cap what users send (bot/channels/guard.py);
        # this cap also covers the HTTP API, so no text can stall the NLU.
        message.set(TEXT, text_utils.normalize(raw[:MAX_NLU_CHARS]))
