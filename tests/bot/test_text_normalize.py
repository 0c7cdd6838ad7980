"""bot/text.py: the one canonical form every user message is put into."""
from __future__ import annotations

import pytest

from bot.text import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１２３４５６７８９０", "1234567890"),
        ("ＳＦ１２３４５６７８９０", "SF1234567890"),
        ("ｓｆ１２３", "sf123"),
        ("！？，：；（）＃", "!?,:;()#"),
        ("订单号：２３０９１５－１２３４５６７８９", "订单号:230915-123456789"),
        ("你好\u3000客服", "你好 客服"),
    ],
    ids=["digits", "upper-letters", "lower-letters", "punctuation", "order-id", "ideographic-space"],
)
def test_full_width_characters_become_ascii(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("訂單號碼", "订单号码"),
        ("退貨", "退货"),
        ("謝謝", "谢谢"),
        ("我要退貨，訂單號碼１２３", "我要退货,订单号码123"),
    ],
)
def test_traditional_characters_become_simplified(traditional, simplified):
    assert normalize(traditional) == simplified


def test_simplified_text_is_unchanged():
    assert normalize("我要退款，订单号是多少") == "我要退款,订单号是多少"


@pytest.mark.parametrize(
    "invisible",
    ["\u200b", "\u200c", "\u200d", "\ufeff", "\u202e", "\u202c", "\x00", "\x07", "\x1b"],
    ids=["zwsp", "zwnj", "zwj", "bom", "rlo-bidi", "pdf-bidi", "nul", "bell", "escape"],
)
def test_invisible_and_control_characters_are_removed(invisible):
    result = normalize(f"退款{invisible}进度")
    assert invisible not in result
    # Removed or turned into a single space; the visible text survives.
    assert result.replace(" ", "") == "退款进度"


def test_control_characters_between_words_keep_them_apart():
    assert normalize("a\x00b\x07c") == "a b c"


def test_bidi_override_cannot_reverse_the_text():
    assert normalize("\u202e订单异常\u202c") == "订单异常"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  我要   退款  ", "我要 退款"),
        ("\t我要\n\n退款\r\n", "我要 退款"),
        ("\u3000\u3000转人工\u3000", "转人工"),
        ("订单号 \u200b 123", "订单号 123"),
    ],
)
def test_whitespace_is_collapsed_and_stripped(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("text", ["好的😀👍", "谢谢🙏", "❤️收到", "🇨🇳"])
def test_emoji_are_kept(text):
    assert normalize(text) == text


@pytest.mark.parametrize("blank", ["", " ", "\u3000", "\x00\u200b\t"])
def test_empty_or_blank_text_becomes_empty(blank):
    assert normalize(blank) == ""


TRICKY_INPUTS = [
    "",
    "   ",
    "１２３ ＡＢＣ",
    "訂單號碼：２３０９１５－１２３４５６７８９０１２３４５",
    "退貨\u200b退款\u202e",
    "\x00\x07我要\x1b轉人工",
    "乾燥 頭髮 發票 後來 皇后",
    "臺灣 檯燈 裏面 裡面",
    "😀👨\u200d👩\u200d👧🇨🇳❤️",
    "\ud800孤立代理项",
    "\ufeff你好\u3000\u3000客服",
    "＂＇＼｀～",
    "手机 138 1234 5678，¥２９９",
    "SF1234567890 快遞單號",
]


@pytest.mark.parametrize("text", TRICKY_INPUTS)
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once
