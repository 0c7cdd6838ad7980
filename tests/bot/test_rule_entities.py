"""bot/entities.py and the NLU component around it (bot/components/rule_entities.py)."""
from __future__ import annotations

from typing import List, Tuple

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.rule_entities import SpacyRuleEntityExtractor
from bot.entities import default_matcher


@pytest.fixture(scope="module")
def matcher():
    return default_matcher()


@pytest.fixture(scope="module")
def extractor() -> SpacyRuleEntityExtractor:
    return SpacyRuleEntityExtractor.create(
        SpacyRuleEntityExtractor.get_default_config(), None, None, None
    )


def found(matcher, text: str) -> List[Tuple[str, str]]:
    """(entity, value) pairs the matcher reports for ``text``."""
    return [(match.entity, match.value) for match in matcher.extract(text)]


# --- order numbers ---------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("230915-123456789012345", "230915-123456789012345"),
        ("我的订单是230915-123456789012345，还没发货", "230915-123456789012345"),
        ("订单号是230915-123456789", "230915-123456789"),
        ("订单号 1234567890123", "1234567890123"),
        ("订单号：2309151234567890", "2309151234567890"),
        ("订单230915123456", "230915123456"),
        ("订单编号:1234567890123", "1234567890123"),
        ("订单号码为1234567890123", "1234567890123"),
        ("order id 1234567890123", "1234567890123"),
    ],
)
def test_order_ids_are_found(matcher, text, value):
    assert found(matcher, text) == [("order_id", value)]


def test_sixteen_digits_after_order_number_is_an_order_id_not_a_phone(matcher):
    text = "订单号1381234567890123"
    assert found(matcher, text) == [("order_id", "1381234567890123")]


def test_long_bare_number_without_order_context_is_not_an_order_id(matcher):
    assert "order_id" not in [entity for entity, _ in found(matcher, "帮我看看1234567890123")]


# --- tracking numbers ------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("SF1234567890123", "SF1234567890123"),
        ("顺丰单号SF1234567890到哪了", "SF1234567890"),
        ("YT1234567890", "YT1234567890"),
        ("圆通yt1234567890", "YT1234567890"),
        ("JD0012345678901", "JD0012345678901"),
        ("快递单号 SF1234567890", "SF1234567890"),
        ("快递单号是1234567890123", "1234567890123"),
        ("快递单号：yt1234567890", "YT1234567890"),
        ("运单号YT1234567890", "YT1234567890"),
    ],
)
def test_tracking_numbers_are_found_with_upper_case_value(matcher, text, value):
    assert found(matcher, text) == [("tracking_number", value)]


# --- phone numbers ---------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("我的手机号13812345678", "13812345678"),
        ("电话138-1234-5678", "13812345678"),
        ("手机 138 1234 5678", "13812345678"),
        ("给我打电话13812345678谢谢", "13812345678"),
        ("客服电话400-8822-528", "4008822528"),
        ("4008822528", "4008822528"),
        ("商家热线021-5339-5288", "02153395288"),
        ("电话 0755-12345678", "075512345678"),
    ],
)
def test_phone_numbers_are_found_as_digits_only(matcher, text, value):
    assert found(matcher, text) == [("phone_number", value)]


# --- amounts ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("付了¥299", "299"),
        ("付了￥299", "299"),
        ("退299.5元", "299.5"),
        ("花了500块", "500"),
        ("500块钱", "500"),
        ("五百块", "五百"),
        ("两千五百元", "两千五百"),
    ],
)
def test_amounts_are_found(matcher, text, value):
    assert found(matcher, text) == [("amount", value)]


@pytest.mark.parametrize(
    ("text", "acceptable_values"),
    [
        ("付了1,299元", {"1,299", "1299"}),
        ("退款 ¥1,299.00", {"1,299.00", "1299.00", "1299"}),
        ("被骗了3万元", {"3万", "30000"}),
    ],
    ids=["thousands-separator-yuan", "thousands-separator-yen", "digits-with-wan"],
)
def test_amounts_written_the_usual_ways_keep_their_size(matcher, text, acceptable_values):
    """A shopper's 1,299 or 3万 must not be reported as 299, 1 or 万."""
    amounts = [value for entity, value in found(matcher, text) if entity == "amount"]
    assert len(amounts) == 1
    assert amounts[0] in acceptable_values


# --- fraud signals ---------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("对方要我的短信验证码", "验证码"),
        ("把验证码发给他", "验证码"),
        ("他让我共享屏幕", "屏幕共享"),
        ("要我开屏幕共享", "屏幕共享"),
        ("问我要支付密码", "银行卡密码"),
        ("银行卡密码是多少", "银行卡密码"),
        ("对方让我先转账", "转账"),
        ("让我把钱汇款过去", "转账"),
        ("钱转到安全账户里", "安全账户"),
        ("说可以开通备用金", "备用金"),
        ("会影响征信", "征信"),
        ("他发来一个链接让我点", "链接"),
        ("自称客服说订单异常要退款", "订单异常"),
        ("说给我双倍赔偿", "理赔"),
        ("加QQ聊", "私下联系"),
    ],
)
def test_fraud_signals_are_reported_with_their_canonical_value(matcher, text, canonical):
    assert ("fraud_signal", canonical) in found(matcher, text)


def test_several_fraud_signals_in_one_message(matcher):
    assert found(matcher, "让我转账到安全账户") == [
        ("fraud_signal", "转账"),
        ("fraud_signal", "安全账户"),
    ]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("对方让我下载Zoom开会", "屏幕共享"), ("让我下载App", "下载软件")],
    ids=["Zoom", "App"],
)
def test_fraud_phrases_match_whatever_the_letter_case(matcher, text, canonical):
    """The pattern file lists "zoom" and "下载app"/"下载APP"; people write Zoom and App."""
    assert ("fraud_signal", canonical) in found(matcher, text)


# --- several entities, offsets, nothing to find ------------------------------

def test_message_with_several_entities_reports_them_in_order(matcher):
    text = "订单号是230915-123456789012345，手机13812345678，付了299元，快递SF1234567890"
    assert found(matcher, text) == [
        ("order_id", "230915-123456789012345"),
        ("phone_number", "13812345678"),
        ("amount", "299"),
        ("tracking_number", "SF1234567890"),
    ]


OFFSET_TEXTS = [
    "我的订单号是230915-123456789012345",
    "你好  我的  订单号  1234567890123",
    "电话138-1234-5678，顺丰SF1234567890",
    "付了¥299，又退了299.5元",
    "😀 对方要短信验证码 😀 还让我共享屏幕",
    "说我征信有问题要开通备用金，点链接转账",
    "客服电话400-8822-528，商家021-5339-5288",
]


@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_offsets_point_at_the_matched_text(matcher, text):
    matches = matcher.extract(text)
    assert matches
    for match in matches:
        assert text[match.start:match.end] == match.text
    # No two entities claim the same characters.
    for first, second in zip(matches, matches[1:]):
        assert first.end <= second.start


@pytest.mark.parametrize(
    "text",
    ["你好", "我想问一下", "你好 我想问一下", "我要退款", "客服电话是多少", "我要转人工", "等了15分钟", "我买了3件"],
)
def test_plain_sentences_have_no_entities(matcher, text):
    assert matcher.extract(text) == []


@pytest.mark.parametrize("text", ["", " ", "   \t\n"])
def test_empty_or_blank_text_has_no_entities(matcher, text):
    assert matcher.extract(text) == []


# --- the NLU component -----------------------------------------------------

def test_component_adds_rasa_entities_with_its_extractor_name(extractor):
    message = Message(data={TEXT: "手机13812345678，订单号230915-123456789012345"})

    extractor.process([message])

    assert message.get(ENTITIES) == [
        {
            "entity": "phone_number",
            "value": "13812345678",
            "start": 2,
            "end": 13,
            "confidence_entity": 1.0,
            "extractor": "SpacyRuleEntityExtractor",
        },
        {
            "entity": "order_id",
            "value": "230915-123456789012345",
            "start": 17,
            "end": 39,
            "confidence_entity": 1.0,
            "extractor": "SpacyRuleEntityExtractor",
        },
    ]


def test_component_entities_are_part_of_the_parse_output(extractor):
    message = Message(data={TEXT: "对方要我的短信验证码"})

    extractor.process([message])

    output = message.as_dict(only_output_properties=True)
    assert [(e["entity"], e["value"]) for e in output[ENTITIES]] == [("fraud_signal", "验证码")]


def test_component_keeps_entities_already_on_the_message(extractor):
    earlier = {"entity": "order_id", "value": "X1", "start": 0, "end": 2, "extractor": "Other"}
    message = Message(data={TEXT: "手机13812345678", ENTITIES: [earlier]})

    extractor.process([message])

    entities = message.get(ENTITIES)
    assert entities[0] == earlier
    assert [(e["entity"], e["value"], e["extractor"]) for e in entities[1:]] == [
        ("phone_number", "13812345678", "SpacyRuleEntityExtractor")
    ]


@pytest.mark.parametrize("text", ["你好", "", "  "])
def test_component_adds_nothing_when_there_is_nothing_to_find(extractor, text):
    message = Message(data={TEXT: text})

    extractor.process([message])

    assert message.get(ENTITIES, []) == []


def test_component_leaves_a_message_without_text_alone(extractor):
    message = Message(data={"intent": {"name": "greet"}})

    extractor.process([message])

    assert message.get(ENTITIES) is None
