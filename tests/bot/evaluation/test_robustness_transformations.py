"""bot/evaluation/robustness.py: each rewrite does what it says, keeps intents, repeats itself."""
from __future__ import annotations

import random
import unicodedata

import pytest

from bot.evaluation import robustness
from bot.evaluation.nlu import Prediction
from bot.evaluation.robustness import (
    ENGLISH_WORDS,
    HOMOPHONES,
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
    variants = load_word_variants(HOMOPHONES)
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
    for word, variants in load_word_variants(HOMOPHONES).items():
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
    variants = load_word_variants(ENGLISH_WORDS)
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


# --- multi_intent, venting, fragments ----------------------------------------

def _rewrites(name: str, text: str, intent: str = "refund", seeds: int = 40):
    transformation = by_name(name)
    return [transform_examples([(text, intent)], transformation, seed=seed)[0] for seed in range(seeds)]


def _glued(rewritten: str, text: str, phrases) -> bool:
    """The message whole, with one listed phrase before or after it (maybe a space or comma between)."""
    if rewritten.endswith(text):
        return rewritten[:-len(text)].rstrip(" ，") in phrases["before"]
    if rewritten.startswith(text):
        return rewritten[len(text):].lstrip(" ，") in phrases["after"]
    return False


@pytest.mark.parametrize("name, path", [("multi_intent", robustness.GREETINGS),
                                        ("venting", robustness.VENTING)])
def test_glued_phrases_come_from_the_lists_before_or_after_the_whole_message(name, path):
    phrases = robustness.load_phrases(path)
    assert phrases["before"] and phrases["after"]
    for text in ("我要退款", "快递三天没更新了 单号SF1234567890", "转人工！"):
        rewritten = [new for new, _ in _rewrites(name, text)]
        assert all(_glued(new, text, phrases) for new in rewritten), rewritten
        assert any(new.endswith(text) for new in rewritten) and any(new.startswith(text) for new in rewritten)
        # Sometimes run together, with no space.
        assert any(new[len(new) - len(text) - 1] not in " ，" for new in rewritten if new.endswith(text))


@pytest.mark.parametrize("name", ["multi_intent", "venting"])
def test_glued_phrases_keep_the_intent_and_repeat_themselves(name):
    assert all(intent == "refund" for _, intent in _rewrites(name, "我要退款"))
    assert _rewrites(name, "我要退款") == _rewrites(name, "我要退款")


def test_multi_intent_leaves_greetings_alone_and_greets_everything_else():
    transformation = by_name("multi_intent")
    assert transform_examples([("你好呀", "greet"), ("在吗", "greet")], transformation) == [
        ("你好呀", "greet"), ("在吗", "greet")]
    for text, intent in EXAMPLES:
        assert transform_examples([(text, intent)], transformation)[0][0] != text


def test_multi_intent_uses_the_greetings_the_brief_names():
    phrases = robustness.load_phrases(robustness.GREETINGS)
    assert {"你好", "在吗", "哈喽 亲", "您好 打扰一下"} <= set(phrases["before"])


@pytest.mark.parametrize("intent", sorted(robustness.VENTING_SKIPPED_INTENTS))
def test_venting_leaves_intents_whose_meaning_it_would_change_alone(intent):
    assert transform_examples([("好的", intent)], by_name("venting")) == [("好的", intent)]


@pytest.mark.parametrize("intent", ["refund", "logistics", "complaint", "fraud_check", "merchant_support",
                                    "ticket_status", "request_human", "ask_hotline", "ask_service_hours",
                                    "contact_channels"])
def test_venting_rewrites_case_intents(intent):
    text = "我的订单怎么样了"
    new, kept = transform_examples([(text, intent)], by_name("venting"))[0]
    assert new != text and text in new and kept == intent


def test_venting_skips_exactly_the_social_rate_and_inform_intents():
    assert robustness.VENTING_SKIPPED_INTENTS == {"greet", "thank", "affirm", "goodbye", "rate", "inform", "deny",
                                                  "resume_bot", "bot_challenge"}


def test_venting_phrases_name_no_topic():
    phrases = robustness.load_phrases(robustness.VENTING)
    for phrase in phrases["before"] + phrases["after"]:
        assert not any(word in phrase for word in ("投诉", "举报", "人工", "客服", "退款", "快递", "骗")), phrase


def test_punctuation_only_venting_is_glued_without_a_space():
    phrases = {"before": ("气死了",), "after": ("！！！",)}
    rewritten = {robustness.glue_phrase("我要退款", phrases, random.Random(seed)) for seed in range(30)}
    assert "我要退款！！！" in rewritten
    assert not any(text.startswith("我要退款") and text != "我要退款！！！" for text in rewritten)


def test_glue_after_a_message_ending_in_punctuation_uses_no_comma():
    phrases = {"before": ("你好",), "after": ("在吗",)}
    rewritten = {robustness.glue_phrase("转人工！", phrases, random.Random(seed)) for seed in range(40)}
    assert not any("！，" in text for text in rewritten)
    assert {"转人工！在吗", "转人工！ 在吗"} <= rewritten


@pytest.mark.parametrize("text, terse", [
    ("请问一下退款多久到账呢？", "退款多久到账"),
    ("我想退款", "退款"),
    ("麻烦转接一下人工坐席", "转接人工坐席"),
    ("您好，我的快递到哪了啊？？", "我的快递到哪了"),
    ("你是机器人吗", "你是机器人"),
    ("东西不想要了，能退吗？还没拆封", "东西不想要了 能退 还没拆封"),
    # Punctuation inside codes stays; particles go only at the end of a clause.
    ("请问订单 261115-300118842265901 到哪了？", "订单 261115-300118842265901 到哪了"),
    ("吗啡类的药能买吗", "吗啡类的药能买"),
    # Listed longer words stay whole.
    ("一下子就坏了啊", "一下子就坏了"),
    ("不麻烦了", "不麻烦了"),
])
def test_fragments_drop_politeness_fillers_particles_and_punctuation(text, terse):
    assert rewrite("fragments", text) == terse


@pytest.mark.parametrize("text", ["好啊", "在吗", "是吗？", "嗯啊"])
def test_fragments_keep_at_least_two_characters(text):
    # Cut to fewer than two characters: the message stays as it was.
    assert rewrite("fragments", text) == text


@pytest.mark.parametrize("text", ["快递到哪了", "转人工", "订单号 261115-300118842265901"])
def test_fragments_leave_terse_messages_unchanged(text):
    assert rewrite("fragments", text) == text


def test_fragments_leave_greetings_alone():
    # 您好客服 without its 您好 would read as a request for customer service.
    assert transform_examples([("您好客服", "greet")], by_name("fragments")) == [("您好客服", "greet")]
    assert transform_examples([("您好客服", "contact_channels")], by_name("fragments")) == [
        ("客服", "contact_channels")]


def test_fragment_words_are_the_briefs():
    words = robustness.load_phrases(robustness.FRAGMENTS)
    assert {"请问", "麻烦", "一下", "我想", "您好"} <= set(words["drop"])
    assert set(words["particles"]) == {"吗", "呢", "啊"}


def test_report_has_a_row_for_each_new_category_and_skipped_messages_are_not_changed():
    examples = [("你好", "greet"), ("请问我要退款吗", "refund"), ("谢谢", "thank")]
    report = robustness.robustness_report(_always("refund"), examples, 0.5, 0.1,
                                          [by_name("multi_intent"), by_name("venting"), by_name("fragments")])
    rows = {row["transformation"]: row for row in report["transformations"]}
    assert list(rows) == ["multi_intent", "venting", "fragments"]
    assert rows["multi_intent"]["changed_messages"] == 2  # not the greeting
    assert rows["venting"]["changed_messages"] == 1  # the refund only
    assert rows["fragments"]["changed_messages"] == 1  # 谢谢 and 你好 are already terse
    for row in rows.values():
        assert row["accuracy"] == report["clean_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
        assert row["drop_points"] == 0.0
    table = robustness.markdown_table(report)
    assert "| a greeting before or after" in table and "| anger or impatience" in table and "| terse:" in table
