"""NLU component: entities by rules on a blank Chinese spaCy pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import knowledge
from bot.entities import RuleEntityMatcher, load_patterns


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class SpacyRuleEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Adds order_id, tracking_number, phone_number, amount and fraud_signal entities.

    Rules live in data files (``patterns_file``, ``dictionary_path``) and are
    read when the model loads, so a new fraud phrase needs no retraining.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "patterns_file": str(knowledge.path("entity_patterns")),
            "dictionary_path": str(knowledge.DICTIONARY_DIR),
        }

    def __init__(self, matcher: RuleEntityMatcher) -> None:
        self._matcher = matcher

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyRuleEntityExtractor:
        dictionary = config.get("dictionary_path")
        matcher = RuleEntityMatcher(
            load_patterns(Path(config["patterns_file"])),
            Path(dictionary) if dictionary else None,
        )
        return cls(matcher)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SpacyRuleEntityExtractor:
        return cls.create(config, model_storage, resource, execution_context)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str):
                continue
            found = [match.as_rasa_entity() for match in self._matcher.extract(text)]
            found = self.add_extractor_name(found)
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
