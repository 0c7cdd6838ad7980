"""bot/evaluation/benchmark.py: the folds, the scoring and the tables, without training."""
from __future__ import annotations

from collections import Counter

import pytest

from bot.evaluation import benchmark
from bot.evaluation.nlu import Prediction, load_examples
from bot.settings import ROOT

LABELS = ["a"] * 10 + ["b"] * 15 + ["c"] * 5


def test_folds_cover_every_example_once_and_never_overlap():
    folds = benchmark.stratified_folds(LABELS)
    assert len(folds) == benchmark.N_FOLDS
    tested = [i for _, test in folds for i in test]
    assert sorted(tested) == list(range(len(LABELS)))
    for train, test in folds:
        assert not set(train) & set(test)
        assert sorted(train + test) == list(range(len(LABELS)))


def test_folds_are_stratified():
    for _, test in benchmark.stratified_folds(LABELS):
        assert Counter(LABELS[i] for i in test) == {"a": 2, "b": 3, "c": 1}


def test_folds_are_the_same_on_every_call():
    # Every system is evaluated on benchmark.stratified_folds of the same labels.
    assert benchmark.stratified_folds(LABELS) == benchmark.stratified_folds(LABELS)
    assert benchmark.stratified_folds(LABELS, seed=1) != benchmark.stratified_folds(LABELS)


def test_training_data_has_enough_examples_per_intent_for_the_folds():
    counts = Counter(intent for _, intent in load_examples(ROOT / "data" / "nlu.yml"))
    assert min(counts.values()) >= benchmark.N_FOLDS


def test_stock_config_is_rasas_default_pipeline_with_seeds_only():
    config = benchmark.stock_config()
    names = [component["name"] for component in config["pipeline"]]
    assert names == ["WhitespaceTokenizer", "RegexFeaturizer", "LexicalSyntacticFeaturizer",
                     "CountVectorsFeaturizer", "CountVectorsFeaturizer", "DIETClassifier",
                     "EntitySynonymMapper", "ResponseSelector", "FallbackClassifier"]
    diet = config["pipeline"][5]
    assert diet["epochs"] == 100 and diet["random_seed"] == benchmark.SEED
    assert config["language"] == "en"
    assert benchmark.fallback_thresholds(config) == (0.3, 0.1)


def test_our_config_is_config_yml():
    config = benchmark.our_config(ROOT / "config.yml")
    assert config["pipeline"][0]["name"] == "bot.components.normalizer.TextNormalizer"
    assert benchmark.fallback_thresholds(config)[1] == 0.1


def test_plain_jieba_ignores_the_domain_dictionary_and_spaces():
    import jieba

    jieba.add_word("百亿补贴测试词")  # as our pipeline's tokenizer does to jieba's global dictionary
    tokens = benchmark.plain_jieba_tokenize()("百亿补贴测试词 退款")
    assert "百亿补贴测试词" not in tokens
    assert " " not in tokens and "退款" in tokens


def _prediction(gold: str, *ranking) -> Prediction:
    return Prediction(f"{gold}?", gold, tuple(ranking))


PREDICTIONS = [
    _prediction("refund", ("refund", 0.9), ("logistics", 0.05)),
    _prediction("refund", ("logistics", 0.45), ("refund", 0.40)),  # wrong, and unsure
    _prediction("logistics", ("logistics", 0.8), ("refund", 0.1)),
    _prediction("out_of_scope", ("refund", 0.35), ("logistics", 0.3)),  # caught by the fallback
]


def test_score_counts_a_fallback_as_out_of_scope_and_reports_the_classifier_alone():
    system = benchmark.System("x", "x", 0.5, 0.1, train=None)
    figures = benchmark.score(PREDICTIONS, system)
    # With the fallback: the unsure refund goes to the fallback (wrong), the out-of-scope one too (right).
    assert figures["intent_accuracy"] == 0.75
    # The classifier alone: 2 of 4 right.
    assert figures["classifier_only_accuracy"] == 0.5


def test_per_intent_f1():
    f1 = benchmark.per_intent_f1(PREDICTIONS, 0.5, 0.1)
    assert f1["logistics"] == 1.0
    assert f1["refund"] == pytest.approx(2 / 3, abs=1e-4)
    assert f1["out_of_scope"] == pytest.approx(2 / 3, abs=1e-4)


def test_mean_std():
    assert benchmark.mean_std([0.9, 0.8, 1.0]) == {"mean": 0.9, "std": 0.1}
    assert benchmark.mean_std([0.5]) == {"mean": 0.5, "std": 0.0}


def _result(title: str, accuracy: float) -> dict:
    per_intent = {"refund": accuracy, "logistics": 1.0}
    return {
        "title": title,
        "cv": {
            "summary": {
                "intent_accuracy": {"mean": accuracy, "std": 0.01},
                "macro_f1": {"mean": accuracy - 0.01, "std": 0.02},
                "classifier_only_accuracy": {"mean": accuracy, "std": 0.0},
                "train_seconds": {"mean": 12.34, "std": 1.0},
                "inference_ms": {"mean": 4.0, "std": 0.1},
            },
            "per_intent_f1": per_intent,
        },
        "held_out": {
            "intent_accuracy": accuracy, "macro_f1": accuracy, "out_of_scope_caught": 0.9,
            "in_scope_wrongly_escalated": 0.02, "classifier_only_accuracy": accuracy,
            "train_seconds": 15.0, "inference_ms": 5.55, "per_intent_f1": per_intent,
        },
        "robustness": {"clean_accuracy": accuracy, "transformations": [
            {"description": "typo", "changed_messages": 3, "accuracy": accuracy - 0.025, "drop_points": 2.5},
        ]},
    }


def test_tables_have_one_row_per_system_or_intent():
    results = {"ours": _result("ours title", 0.95), "tfidf_lr": _result("baseline", 0.8)}
    table = benchmark.main_table(results).splitlines()
    assert len(table) == 2 + 2
    assert table[2].startswith("| ours title | 0.950 ± 0.010 | 0.940 ± 0.020 | 0.950 |")
    assert "12.3 / 15.0" in table[2] and table[2].endswith("| 5.5 |") or table[2].endswith("| 5.6 |")

    per_intent = benchmark.per_intent_table(results).splitlines()
    assert per_intent[0] == "| intent | ours CV | ours held-out | tfidf_lr CV | tfidf_lr held-out |"
    assert per_intent[2] == "| logistics | 1.00 | 1.00 | 1.00 | 1.00 |"
    assert per_intent[3] == "| refund | 0.95 | 0.95 | 0.80 | 0.80 |"

    robust = benchmark.robustness_table(results).splitlines()
    assert robust[2] == "| clean | 0 | 0.950 | 0.800 |"
    assert robust[3] == "| typo | 3 | 0.925 (-2.5) | 0.775 (-2.5) |"
