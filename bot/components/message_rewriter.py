"""A base for the pipeline steps that rewrite every message before featurizing."""

from __future__ import annotations

from rasa.engine.graph import GraphComponent
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


class MessageRewriter(GraphComponent):
    """Rewrites training examples and incoming messages the same way.

    A step that changed only one of the two would train the classifier on
    text it never sees at run time.
    """

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self.rewrite(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self.rewrite(message)
        return messages

    def rewrite(self, message: Message) -> None:
        raise NotImplementedError
