"""GreetingFilter: the classifier sees the request, the message keeps its text."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.greeting_filter import GreetingFilter


@pytest.fixture
def components(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = JiebaTokenizer.create(
        {**JiebaTokenizer.get_default_config(), "dictionary_path": "bot/knowledge/dictionary"}, storage, Resource("t"), context
    )
    return tokenizer, GreetingFilter.create({}, storage, Resource("g"), context)


def tokens_seen(components, text):
    tokenizer, greeting_filter = components
    message = Message({TEXT: text})
    tokenizer.process([message])
    greeting_filter.process([message])
    return "".join(token.text for token in message.get(TOKENS_NAMES[TEXT])), message.get(TEXT)


def test_the_classifier_sees_only_the_request_and_the_text_stays_whole(components):
    assert tokens_seen(components, "您好 人工") == ("人工", "您好 人工")
    assert tokens_seen(components, "人工客服 在不在呀") == ("人工客服", "人工客服 在不在呀")


def test_a_pure_greeting_keeps_every_token(components):
    assert tokens_seen(components, "你好 我想咨询一下")[0].replace(" ", "") == "你好我想咨询一下"


def test_training_examples_are_filtered_the_same_way(components):
    tokenizer, greeting_filter = components
    data = TrainingData([Message({TEXT: "哈喽 有人工吗", "intent": "request_human"})])
    tokenizer.process_training_data(data)
    greeting_filter.process_training_data(data)
    assert "".join(t.text for t in data.training_examples[0].get(TOKENS_NAMES[TEXT])) == "有人工吗"
