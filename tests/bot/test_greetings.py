"""Where the greeting ends and the request starts (bot/greetings.py)."""
from __future__ import annotations

import pytest

from bot.greetings import greeting_lexicon


def request(text):
    span = greeting_lexicon().request_span(text)
    return None if span is None else text[span[0]:span[1]]


@pytest.mark.parametrize("text,expected", [
    ("您好 人工", "人工"),
    ("人工客服 在不在呀", "人工客服"),
    ("哈喽 有人工吗", "有人工吗"),
    ("你好我想退款", "我想退款"),
    ("在吗 我的退款呢", "我的退款呢"),
    ("亲 我的快递呢", "我的快递呢"),
    ("我要退款 亲", "我要退款"),
    ("早上好 客服 我的快递三天没动了", "客服 我的快递三天没动了"),
    ("hello，转人工 谢谢", "转人工"),
    ("人工 谢谢", "人工"),
    ("在？ 退款多久到", "退款多久到"),
    ("我的退款呢 在吗？？", "我的退款"),
])
def test_a_greeting_glued_to_a_request_is_cut_off(text, expected):
    assert request(text) == expected


@pytest.mark.parametrize("text", [
    "你好", "在吗", "在吗在吗在吗", "哈喽 亲", "您好！请问在吗？", "你好 我想咨询一下",
    "在不在 急事", "客服在吗", "hi 在吗", "嗨 小助手", "早",
])
def test_a_message_that_is_only_a_greeting_is_left_whole(text):
    assert request(text) is None


@pytest.mark.parametrize("text", ["亲子装怎么退", "hipp奶粉能退吗", "有人工吗", "我要退款", "早餐机坏了"])
def test_words_that_only_start_like_a_greeting_are_no_greeting(text):
    assert request(text) is None


@pytest.mark.parametrize("text", ["谢谢", "麻烦了", "现在发货吗", "我在家"])
def test_thanks_alone_and_words_with_a_greeting_inside_are_not_greetings(text):
    assert not greeting_lexicon().is_only_greeting(text)


@pytest.mark.parametrize("text", ["在？", "你好哇", "在不在", "客服在吗 急事"])
def test_nothing_but_greetings_is_a_greeting(text):
    assert greeting_lexicon().is_only_greeting(text)
