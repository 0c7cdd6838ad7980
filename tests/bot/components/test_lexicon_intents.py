"""LexiconIntentClassifier: whole-message slang and greetings get their intent, nothing else changes."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.lexicon_intents import LexiconIntentClassifier

DIET_GUESS = {"name": "inform", "confidence": 0.7}


@pytest.fixture
def classifier(tmp_path):
    context = ExecutionContext(GraphSchema({}), "test")
    return LexiconIntentClassifier.create({}, LocalModelStorage(tmp_path), Resource("s"), context)


def classified(classifier, text):
    message = Message({TEXT: text, INTENT: DIET_GUESS, INTENT_RANKING_KEY: [DIET_GUESS, {"name": "goodbye", "confidence": 0.3}]})
    classifier.process([message])
    return message


@pytest.mark.parametrize("text,intent", [("886", "goodbye"), ("88!", "goodbye"), ("拜了", "goodbye"), ("3Q", "thank"), ("ok啦", "affirm"),
    ("早安呀", "greet"), ("客服在吗 急事", "greet"), ("您好！请问在吗？", "greet"), ("hi", "greet")])
def test_slang_gets_its_intent_on_top_with_full_confidence(classifier, text, intent):
    message = classified(classifier, text)
    assert message.get(INTENT) == {"name": intent, "confidence": 1.0}
    ranking = message.get(INTENT_RANKING_KEY)
    assert ranking[0] == {"name": intent, "confidence": 1.0}
    assert [item["name"] for item in ranking].count(intent) == 1


@pytest.mark.parametrize("text", ["88元的东西怎么退", "886123", "行了行了", "订单 261122-482913004417265",
                                  "您好 人工", "在吗 我的快递呢", "亲子装怎么退", "急事"])
def test_anything_else_keeps_the_classifier_s_answer(classifier, text):
    assert classified(classifier, text).get(INTENT) == DIET_GUESS
