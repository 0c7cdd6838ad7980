"""Secrets users type are found and masked; everything else is left alone."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.security.secrets import (
    BANK_CARD, CVV, ID_CARD, PASSWORD, VERIFICATION_CODE, id_card_valid, luhn_valid, mask_secrets,
)


def with_luhn_digit(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


def with_id_check(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]


@pytest.mark.parametrize("text, masked, kinds", [
    ("卡号6222021234567890128", "卡号6222 **** **** *** 0128", (BANK_CARD,)),
    ("我的卡 6222 0212 3456 7894", "我的卡 6222 **** **** 7894", (BANK_CARD,)),
    ("验证码 482913 发给你了", "验证码 ****** 发给你了", (VERIFICATION_CODE,)),
    ("482913", "******", (VERIFICATION_CODE,)),
    ("他让我报 5521 这个验证码", "他让我报 **** 这个验证码", (VERIFICATION_CODE,)),
    ("密码是abc123", "密码是******", (PASSWORD,)),
    ("支付密码 889900", "支付密码 ******", (PASSWORD,)),
    ("身份证11010519491231002X", "身份证110***********002X", (ID_CARD,)),
    ("卡背面的CVV是 123", "卡背面的CVV是 ***", (CVV,)),
])
def test_secrets_are_masked(text, masked, kinds):
    result = mask_secrets(text)
    assert (result.text, result.found) == (masked, kinds)


@pytest.mark.parametrize("text", [
    "订单261117-228410735906618 退款",
    "261117228410735906618",
    "快递单号 SF1402365578810",
    "客服电话 400-8822-528 手机 13812345678",
    "有人让我告诉他银行卡密码怎么办",
    "花了1999元",
    "工单 T20261125-0007",
    "6222021234567890123",  # 19 digits that fail the Luhn check: not a card
])
def test_ordinary_numbers_and_questions_are_left_alone(text):
    assert mask_secrets(text).text == text
    assert not mask_secrets(text).had_secrets


def test_id_card_check_needs_a_real_date_and_check_character():
    assert id_card_valid("11010519491231002X")
    assert not id_card_valid("11010519491231002Y")
    assert not id_card_valid(with_id_check("11010519491332002"))  # 13th month


card_bodies = st.from_regex(r"62\d{13,16}", fullmatch=True)
noise = st.text(alphabet=st.sampled_from("我的卡号是，。 请帮忙看看abc退款"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(card_bodies, noise, noise, st.booleans())
def test_no_card_number_survives(body, before, after, grouped):
    card = with_luhn_digit(body)
    written = " ".join(card[i:i + 4] for i in range(0, len(card), 4)) if grouped else card
    masked = mask_secrets(f"{before}{written}{after}").text
    assert card not in re.sub(r"\D", "", masked)
    assert card[-4:] in masked


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[1-6]\d{5}(19[5-9]\d|20[01]\d)(0[1-9]|1[0-2])(0[1-9]|1\d|2[0-8])\d{3}", fullmatch=True), noise)
def test_no_id_number_survives(body17, before):
    number = with_id_check(body17)
    assert number not in mask_secrets(before + number).text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_masking_any_text_is_idempotent_and_never_fails(text):
    once = mask_secrets(text).text
    assert mask_secrets(once).text == once


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\d{6}", fullmatch=True), st.sampled_from(["验证码", "校验码", "动态码", "code"]), noise)
def test_a_code_next_to_its_name_never_survives(code, word, after):
    assert code not in mask_secrets(f"{word}{code}{after}").text
