"""bot/evaluation/robustness.py: each rewrite does what it says, keeps intents, repeats itself."""
from __future__ import annotations

import random
import unicodedata

import pytest

from bot.evaluation import robustness
from bot.evaluation.nlu import Prediction
from bot.evaluation.robustness import (
    ENGLISH_WORDS_FILE,
    HOMOPHONES_FILE,
    TRANSFORMATIONS,
    load_word_variants,
    transform_examples,
)
from bot.text import normalize

EXAMPLES = [
    ("我要退款", "refund"),
    ("快递三天没更新了 单号SF1234567890", "logistics"),
    ("客服电话多少？", "ask_hotline"),
    ("转人工！", "request_human"),
    ("谢谢，问题解决了。", "thank"),
    ("订单号 261115-300118842265901", "inform"),
]


def by_name(name: str) -> robustness.Transformation:
    return next(t for t in TRANSFORMATIONS if t.name == name)


def rewrite(name: str, text: str) -> str:
    return transform_examples([(text, "any")], by_name(name))[0][0]


@pytest.mark.parametrize("transformation", TRANSFORMATIONS, ids=lambda t: t.name)
def test_every_rewrite_keeps_the_intents_and_the_order(transformation):
    rewritten = transform_examples(EXAMPLES, transformation)
    assert [intent for _, intent in rewritten] == [intent for _, intent in EXAMPLES]


@pytest.mark.parametrize("transformation", TRANSFORMATIONS, ids=lambda t: t.name)
def test_every_rewrite_is_deterministic(transformation):
    assert transform_examples(EXAMPLES, transformation) == transform_examples(EXAMPLES, transformation)


@pytest.mark.parametrize("transformation", TRANSFORMATIONS, ids=lambda t: t.name)
def test_every_rewrite_changes_some_messages(transformation):
    rewritten = transform_examples(EXAMPLES, transformation)
    assert any(new != old for (new, _), (old, _) in zip(rewritten, EXAMPLES))


def test_the_seed_picks_the_variant():
    typo = by_name("typo_homophone")
    texts = {transform_examples([("我要退款", "refund")], typo, seed=seed)[0][0] for seed in range(30)}
    assert len(texts) > 1


def test_traditional_characters_are_what_the_normaliser_turns_back():
    assert rewrite("traditional", "我要退货 订单号多少") == "我要退貨 訂單號多少"
    assert normalize(rewrite("traditional", "我要退货 订单号多少")) == "我要退货 订单号多少"


def test_full_width_covers_digits_letters_punctuation_and_spaces():
    assert rewrite("full_width", "SF123 到哪了?") == "ＳＦ１２３\u3000到哪了？"
    assert normalize(rewrite("full_width", "SF123 到哪了?")) == "SF123 到哪了?"


def test_typo_swaps_one_listed_word_for_a_listed_slip():
    variants = load_word_variants(HOMOPHONES_FILE)
    rewritten = rewrite("typo_homophone", "我要退款")
    assert rewritten != "我要退款"
    assert rewritten.replace(rewritten[2:], "") == "我要"
    assert rewritten[2:] in variants["退款"]


def test_typo_leaves_a_message_without_listed_words_alone():
    assert rewrite("typo_homophone", "5分") == "5分"


def test_typo_changes_only_one_word():
    text = "退款 快递 客服"
    rewritten = rewrite("typo_homophone", text)
    assert sum(old != new for old, new in zip(text.split(), rewritten.split())) == 1


def test_homophone_list_maps_words_to_different_spellings():
    for word, variants in load_word_variants(HOMOPHONES_FILE).items():
        assert variants and word not in variants


def test_no_punctuation_drops_marks_and_clause_spaces_but_not_spaces_between_latin_words():
    assert rewrite("no_punctuation", "谢谢，问题解决了。") == "谢谢问题解决了"
    assert rewrite("no_punctuation", "快递三天没更新了 单号SF12") == "快递三天没更新了单号SF12"
    assert rewrite("no_punctuation", "customer service 在哪!") == "customer service在哪"
    assert not any(unicodedata.category(c).startswith("P") for c in rewrite("no_punctuation", "“转人工！”"))


def test_filler_goes_in_front_and_keeps_the_message():
    for text, _ in EXAMPLES:
        rewritten = rewrite("filler", text)
        assert any(rewritten.startswith(filler) for filler in robustness.FILLERS)
        # Removing the fillers gives back the message.
        assert len(rewritten) > len(text)


def test_filler_sometimes_also_goes_after_a_clause_boundary():
    rng = random.Random(0)
    rewritten = {robustness.add_filler("快递没到 怎么办", rng) for _ in range(20)}
    assert any(" " in text and text.split(" ", 1)[1] != "怎么办" for text in rewritten)


def test_emoji_adds_one_to_three_emoji_and_nothing_else():
    rewritten = rewrite("emoji", "我要退款")
    assert "我要退款" in rewritten
    extra = rewritten.replace("我要退款", "", 1)
    assert extra and all(char in "".join(robustness.EMOJI) for char in extra)


def test_english_mix_puts_one_english_word_in_place_of_a_chinese_one():
    variants = load_word_variants(ENGLISH_WORDS_FILE)
    rewritten = rewrite("english_mix", "我要退款")
    assert rewritten == "我要 refund"
    assert "refund" in variants["退款"]


def test_english_mix_leaves_no_double_spaces():
    assert "  " not in rewrite("english_mix", "我寄回去了 单号YT7589221034567")


def _always(intent: str):
    def predict(examples):
        return [Prediction(text, gold, ((intent, 0.9), ("other", 0.05))) for text, gold in examples]
    return predict


def test_report_gives_the_drop_in_points_per_rewrite():
    examples = [("我要退款", "refund"), ("转人工", "request_human")]

    def knows_only_the_clean_refund(batch):
        return [Prediction(text, gold, (("refund" if text == "我要退款" else "request_human", 0.9),))
                for text, gold in batch]

    report = robustness.robustness_report(knows_only_the_clean_refund, examples, 0.5, 0.1,
                                          [by_name("typo_homophone")])
    row = report["transformations"][0]
    assert report["clean_accuracy"] == 1.0
    assert row["changed_messages"] == 2  # 退款 and 人工 both have listed slips
    assert row["accuracy"] == 0.5
    assert row["drop_points"] == 50.0
    assert [error["gold"] for error in row["newly_wrong"]] == ["refund"]
    assert "| one typo or homophone" in robustness.markdown_table(report)
