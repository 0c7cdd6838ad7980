"""bot/components/normalizer.py: the NLU pipeline step in front of the tokenizer."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.normalizer import ORIGINAL_TEXT, TextNormalizer


@pytest.fixture
def normalizer() -> TextNormalizer:
    return TextNormalizer.create(TextNormalizer.get_default_config(), None, None, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("訂單號碼：２３０９１５－１２３", "订单号码:230915-123"),
        ("  我要\u200b退貨  ", "我要退货"),
        ("转人工", "转人工"),
    ],
)
def test_process_sets_normalised_text_and_keeps_the_original(normalizer, raw, expected):
    message = Message(data={TEXT: raw})

    returned = normalizer.process([message])

    assert returned == [message]
    assert message.get(TEXT) == expected
    assert message.get(ORIGINAL_TEXT) == raw


def test_process_handles_every_message_in_the_batch(normalizer):
    messages = [Message(data={TEXT: "退貨"}), Message(data={TEXT: "謝謝"})]

    normalizer.process(messages)

    assert [m.get(TEXT) for m in messages] == ["退货", "谢谢"]
    assert [m.get(ORIGINAL_TEXT) for m in messages] == ["退貨", "謝謝"]


def test_original_text_is_not_part_of_the_parse_output(normalizer):
    message = Message(data={TEXT: "退貨"})

    normalizer.process([message])

    assert message.as_dict_nlu().get(TEXT) == "退货"
    assert ORIGINAL_TEXT not in message.as_dict(only_output_properties=True)


def test_process_training_data_normalises_examples(normalizer):
    examples = [
        Message(data={TEXT: "我要退貨", INTENT: "refund"}),
        Message(data={TEXT: "快遞單號ＳＦ１２３４５６７８９０", INTENT: "logistics"}),
        Message(data={TEXT: "  轉\u3000人工 ", INTENT: "request_human"}),
    ]
    training_data = TrainingData(training_examples=examples)

    result = normalizer.process_training_data(training_data)

    assert [m.get(TEXT) for m in result.training_examples] == [
        "我要退货",
        "快递单号SF1234567890",
        "转 人工",
    ]
    assert [m.get(INTENT) for m in result.training_examples] == [
        "refund",
        "logistics",
        "request_human",
    ]
    assert [m.get(ORIGINAL_TEXT) for m in result.training_examples] == [
        "我要退貨",
        "快遞單號ＳＦ１２３４５６７８９０",
        "  轉\u3000人工 ",
    ]


@pytest.mark.parametrize(
    "data",
    [{}, {INTENT: "greet"}, {TEXT: None}],
    ids=["empty", "intent-only", "text-none"],
)
def test_message_without_text_is_left_alone(normalizer, data):
    message = Message(data=dict(data))

    normalizer.process([message])

    assert message.data == data
    assert message.get(ORIGINAL_TEXT) is None


def test_empty_text_stays_empty(normalizer):
    message = Message(data={TEXT: ""})

    normalizer.process([message])

    assert message.get(TEXT) == ""


def test_fingerprint_addon_is_stable_and_non_empty():
    first = TextNormalizer.fingerprint_addon({})
    second = TextNormalizer.fingerprint_addon(TextNormalizer.get_default_config())

    assert isinstance(first, str)
    assert first.strip()
    assert first == second
