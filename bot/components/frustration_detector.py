"""NLU component: marks a frustrated message with a ``frustration`` entity."""

from __future__ import annotations

from typing import Any, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import frustration, knowledge


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class FrustrationDetector(GraphComponent, EntityExtractorMixin):
    """Adds ``frustration`` (value: insult, threat, impatience or exasperation).

    Venting (「垃圾客服」, 「等半天了 没人回」, 「再不处理我就去12315了」) is how
    most angry shoppers complain. The cues are data (frustration.yml), read
    when the model loads, so a new cue needs no retraining.
    """

    def __init__(self, lexicon: frustration.FrustrationLexicon) -> None:
        self._lexicon = lexicon

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FrustrationDetector:
        return cls(frustration.frustration_lexicon())

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> Optional[str]:
        return knowledge.fingerprint("frustration")

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            cue = self._lexicon.first_cue(message.get(TEXT) or "")
            if cue is not None:
                found = self.add_extractor_name([cue.as_rasa_entity()])
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
