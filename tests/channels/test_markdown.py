"""The bot's text as Markdown for Markdown widgets: hard line breaks, markup escaped, nothing else changed.

How rasa-webchat renders it, and that our widget takes it off again, is
checked in Chromium (tests/channels/test_rasa_webchat_browser.py,
test_widget_browser.py).
"""
from __future__ import annotations

import pytest

from bot.channels.markdown import HARD_BREAK, as_markdown


def test_each_line_break_becomes_a_hard_break():
    hotline = "拼多多官方客服热线：\n· 消费者热线：400-8822-528（每天 7:00-23:00）\n· 商家热线：021-5339-5288"
    assert as_markdown(hotline).split(HARD_BREAK) == hotline.split("\n")


def test_chinese_text_phone_numbers_and_times_are_left_as_they_are():
    text = "订单 261112-405829173664021 的退款 3-7个工作日 内处理，工单号：T20261125-0001。"
    assert as_markdown(text) == text


@pytest.mark.parametrize("text, markdown", [
    ("已登记回电号码 138****5678", r"已登记回电号码 138\*\*\*\*5678"),
    ("[点我](javascript:alert(1))", r"\[点我\](javascript:alert(1))"),
    ("`代码` _斜体_ ~~删除~~ a|b", r"\`代码\` \_斜体\_ \~\~删除\~\~ a\|b"),
    ("C:\\路径", "C:\\\\路径"),
    ("<b>粗体</b> &amp;", "&lt;b>粗体&lt;/b> &amp;amp;"),
])
def test_inline_markup_is_escaped(text, markdown):
    assert as_markdown(text) == markdown


@pytest.mark.parametrize("line, markdown", [
    ("1. 退款/退货", r"1\. 退款/退货"),
    ("2) 查物流", r"2\) 查物流"),
    ("- 列表", r"\- 列表"),
    ("+ 列表", r"\+ 列表"),
    ("# 标题", r"\# 标题"),
    ("> 引用", r"\> 引用"),
    ("---", r"\---"),
    ("===", "&#61;=="),
    ("    代码块", "&#32;&#32;&#32;&#32;代码块"),
    ("\t- 缩进的列表", r"&#9;\- 缩进的列表"),
])
def test_what_would_start_a_heading_list_quote_or_code_block_is_plain_text(line, markdown):
    assert as_markdown(line) == markdown


def test_a_mark_in_the_middle_of_a_line_is_no_block_mark():
    assert as_markdown("价格 1. 2 元 - 满减 # 1 > 0") == "价格 1. 2 元 - 满减 # 1 > 0"
