"""bot/components/pinyin_featurizer.py: homophone typos get the features of the word meant."""
from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.pinyin_featurizer import PinyinCountVectorsFeaturizer, to_pinyin


@pytest.mark.parametrize(
    ("word", "slip"),
    [("退款", "推款"), ("退款", "退欵"), ("人工", "仁工"), ("快递", "快第"), ("客服", "客福"), ("还没", "孩没")],
)
def test_homophone_slips_have_the_same_pinyin(word, slip):
    assert to_pinyin(slip) == to_pinyin(word)


def test_tones_are_dropped_and_latin_text_kept():
    assert to_pinyin("退款") == "tui kuan"
    assert to_pinyin("refund") == "refund"


@pytest.fixture
def featurizer(tmp_path) -> PinyinCountVectorsFeaturizer:
    config = {**PinyinCountVectorsFeaturizer.get_default_config(), "min_ngram": 1, "max_ngram": 2}
    return PinyinCountVectorsFeaturizer.create(
        config, LocalModelStorage(tmp_path), Resource("pinyin"), ExecutionContext(None)
    )


def _tokenized(texts):
    tokenizer = JiebaTokenizer.create(JiebaTokenizer.get_default_config(), None, None, None)
    messages = [Message(data={TEXT: text}) for text in texts]
    tokenizer.process(messages)
    return messages


def _sentence_features(message: Message) -> np.ndarray:
    _, sentence = message.get_sparse_features(TEXT, [])
    return sentence.features.toarray()


def test_a_slip_gets_the_sentence_features_of_the_word_meant(featurizer):
    training = _tokenized(["我要退款", "转人工", "快递到哪了"])
    for message in training:
        message.set("intent", "any")
    featurizer.train(TrainingData(training_examples=training))

    meant, slipped = _tokenized(["我要退款", "我要推款"])
    featurizer.process([meant, slipped])

    assert np.array_equal(_sentence_features(meant), _sentence_features(slipped))
    assert _sentence_features(meant).sum() > 0
