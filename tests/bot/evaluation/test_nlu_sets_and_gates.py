"""bot/evaluation/nlu.py: named sets, per-set gates and per-set outputs, on fake predictions."""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from bot.evaluation import nlu
from bot.evaluation.nlu import Condition, Prediction, parse_gate, parse_set

# --- --set ------------------------------------------------------------------


def test_parse_set():
    assert parse_set("heldout=tests/nlu_heldout.yml") == ("heldout", Path("tests/nlu_heldout.yml"))
    assert parse_set(" real-istic_2 = a/b.yml ") == ("real-istic_2", Path("a/b.yml"))


@pytest.mark.parametrize("value", ["tests/nlu_heldout.yml", "=a.yml", "heldout=", "held out=a.yml", "a/b=c.yml"])
def test_parse_set_rejects(value):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_set(value)


# --- --gate -----------------------------------------------------------------


def test_parse_gate_maps_short_names_to_the_figures_keys():
    assert parse_gate("heldout:accuracy>=0.95,oos_caught>=0.93") == [
        Condition("heldout", "intent_accuracy", ">=", 0.95),
        Condition("heldout", "out_of_scope_caught", ">=", 0.93),
    ]
    assert parse_gate("realistic:in_scope_accuracy>=0.9,wrongly_escalated<=0.05,macro_f1>=.8") == [
        Condition("realistic", "in_scope_accuracy", ">=", 0.9),
        Condition("realistic", "in_scope_wrongly_escalated", "<=", 0.05),
        Condition("realistic", "macro_f1", ">=", 0.8),
    ]


def test_parse_gate_takes_the_json_keys_percentages_and_spaces():
    assert parse_gate("r: in_scope_wrongly_escalated <= 3% , out_of_scope_caught>=92%") == [
        Condition("r", "in_scope_wrongly_escalated", "<=", 0.03),
        Condition("r", "out_of_scope_caught", ">=", 0.92),
    ]


@pytest.mark.parametrize("value", [
    "accuracy>=0.9",  # no set
    "heldout:",  # no condition
    "heldout:accuracy>0.9",  # only >= and <=
    "heldout:accuracy=0.9",
    "heldout:accuracy>=",
    "heldout:accuracy>=0.9,",  # an empty condition
    "heldout:precision>=0.9",  # no such figure
    "heldout:accuracy>=95",  # a percentage without %
    "heldout:accuracy>=abc",
])
def test_parse_gate_rejects(value):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_gate(value)


def test_a_bound_met_exactly_passes():
    figures = {"intent_accuracy": 0.95, "in_scope_wrongly_escalated": 0.03}
    assert Condition("s", "intent_accuracy", ">=", 0.95).holds(figures)
    assert not Condition("s", "intent_accuracy", ">=", 0.9501).holds(figures)
    assert Condition("s", "in_scope_wrongly_escalated", "<=", 0.03).holds(figures)
    assert not Condition("s", "in_scope_wrongly_escalated", "<=", 0.0299).holds(figures)


def test_check_gate_reports_each_condition():
    figures = {"intent_accuracy": 0.9, "out_of_scope_caught": 0.8}
    checks = nlu.check_gate(parse_gate("h:accuracy>=0.85,oos_caught>=0.85"), figures)
    assert [(check["figure"], check["value"], check["passed"]) for check in checks] == [
        ("intent_accuracy", 0.9, True), ("out_of_scope_caught", 0.8, False)]


# --- the command line -------------------------------------------------------


@pytest.fixture
def set_files(tmp_path):
    heldout, realistic = tmp_path / "heldout.yml", tmp_path / "realistic.yml"
    heldout.write_text("version: '3.1'\nnlu: []\n", encoding="utf-8")
    realistic.write_text("version: '3.1'\nnlu: []\n", encoding="utf-8")
    return heldout, realistic


def test_arguments_name_the_sets_and_gather_the_gates(set_files):
    heldout, realistic = set_files
    args = nlu.parse_arguments([
        "--set", f"heldout={heldout}", "--set", f"realistic={realistic}",
        "--gate", "heldout:accuracy>=0.93,oos_caught>=0.85",
        "--gate", "realistic:in_scope_accuracy>=0.75", "--gate", "realistic:wrongly_escalated<=0.10",
    ])
    assert args.sets == {"heldout": heldout, "realistic": realistic}
    assert [str(condition) for condition in args.conditions] == [
        "heldout:intent_accuracy>=0.93", "heldout:out_of_scope_caught>=0.85",
        "realistic:in_scope_accuracy>=0.75", "realistic:in_scope_wrongly_escalated<=0.1"]


def test_default_sets_are_the_heldout_and_the_realistic_set():
    assert dict(nlu.DEFAULT_SETS) == {"heldout": Path("tests/nlu_heldout.yml"),
                                      "realistic": Path("tests/nlu_realistic.yml")}


@pytest.mark.parametrize("extra", [
    ["--gate", "other:accuracy>=0.9"],  # a gate on a set not evaluated
    ["--set", "heldout=elsewhere.yml"],  # a name twice
    ["--gate", "heldout:accuracy>0.9"],  # a bad gate
])
def test_arguments_refuse(set_files, extra):
    heldout, _ = set_files
    with pytest.raises(SystemExit) as exit_info:
        nlu.parse_arguments(["--set", f"heldout={heldout}", *extra])
    assert exit_info.value.code == 2


def test_arguments_refuse_a_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        nlu.parse_arguments(["--set", f"realistic={tmp_path / 'nope.yml'}"])
    assert "nope.yml" in capsys.readouterr().err


# --- figures ----------------------------------------------------------------


def _prediction(text: str, gold: str, top: str, confidence: float = 0.9) -> Prediction:
    return Prediction(text, gold, ((top, confidence), ("other", 0.0)))


def test_in_scope_accuracy_leaves_out_of_scope_messages_out():
    predictions = [
        _prediction("a", "refund", "refund"),
        _prediction("b", "refund", "logistics"),  # wrong
        _prediction("c", "logistics", "logistics", 0.2),  # escalated: wrong
        _prediction("d", "logistics", "logistics"),
        _prediction("e", "out_of_scope", "refund", 0.2),  # caught: right
        _prediction("f", "out_of_scope", "refund"),  # slipped: wrong
    ]
    figures = nlu.summarise(predictions, 0.5, 0.1)
    assert figures["intent_accuracy"] == 0.5
    assert figures["in_scope_accuracy"] == 0.5
    assert figures["in_scope_examples"] == 4 and figures["out_of_scope_examples"] == 2
    assert figures["in_scope_wrongly_escalated"] == 0.25
    assert figures["out_of_scope_caught"] == 0.5


# --- one run over several sets ----------------------------------------------

HELDOUT = [("我要退款", "refund"), ("快递到哪了", "logistics"), ("讲个笑话", "out_of_scope")]
REALISTIC = [("亲 钱呢 退款呢", "refund"), ("在吗 快递咋还没到", "logistics"), ("包裹丢了吧", "logistics"),
             ("股票能买吗", "out_of_scope")]
# What the fake model answers: (top intent, confidence).
ANSWERS = {
    "我要退款": ("refund", 0.95), "快递到哪了": ("logistics", 0.9), "讲个笑话": ("refund", 0.2),
    "亲 钱呢 退款呢": ("refund", 0.8), "在吗 快递咋还没到": ("greet", 0.7),  # wrong
    "包裹丢了吧": ("logistics", 0.3),  # escalated
    "股票能买吗": ("refund", 0.1),
}


class FakeModel:
    def __init__(self):
        self.calls = []

    def __call__(self, examples):
        self.calls.append(list(examples))
        return [Prediction(text, gold, (ANSWERS[text], ("other", 0.0))) for text, gold in examples]


def _run(tmp_path, gates, model=None):
    sets = {"heldout": (Path("h.yml"), HELDOUT), "realistic": (Path("r.yml"), REALISTIC)}
    conditions = [condition for gate in gates for condition in parse_gate(gate)]
    return nlu.run(sets, model or FakeModel(), 0.5, 0.1, conditions, tmp_path / "nlu", "fake")


def test_each_set_gets_its_own_outputs_and_the_summary_has_both(tmp_path, capsys):
    model = FakeModel()
    assert _run(tmp_path, [], model) == 0
    assert model.calls == [HELDOUT, REALISTIC]  # one model, every set once
    out = tmp_path / "nlu"
    for name in ("heldout", "realistic"):
        for file in ("confusion_matrix.csv", "confusion_matrix.png", "confidence_histogram.png",
                     "errors.csv", "nlu_eval.json"):
            assert (out / name / file).is_file(), (name, file)

    realistic = json.loads((out / "realistic" / "nlu_eval.json").read_text(encoding="utf-8"))
    assert realistic["set"] == "realistic" and realistic["data"] == "r.yml"
    assert realistic["configured"]["examples"] == 4
    assert realistic["configured"]["in_scope_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert realistic["configured"]["in_scope_wrongly_escalated"] == pytest.approx(1 / 3, abs=1e-4)
    assert len(realistic["threshold_sweep"]) == len(nlu.THRESHOLDS)
    with (out / "realistic" / "errors.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"gold": "logistics", "predicted": "greet", "text": "在吗 快递咋还没到"},
                    {"gold": "logistics", "predicted": "nlu_fallback", "text": "包裹丢了吧"}]
    assert (out / "heldout" / "confusion_matrix.csv").read_text(encoding="utf-8").startswith("gold\\predicted,")

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["passed"] is True and summary["threshold"] == 0.5 and summary["model"] == "fake"
    assert set(summary["sets"]) == {"heldout", "realistic"}
    assert summary["sets"]["heldout"]["figures"]["intent_accuracy"] == 1.0
    assert summary["sets"]["realistic"]["errors"] == 2

    printed = capsys.readouterr().out
    assert "heldout (h.yml: 3 examples" in printed and "realistic (r.yml: 4 examples" in printed
    assert "in-scope accuracy" in printed
    assert "FAILED" not in printed


def test_gates_pass(tmp_path):
    assert _run(tmp_path, ["heldout:accuracy>=0.93,oos_caught>=0.85",
                           "realistic:in_scope_accuracy>=0.3,oos_caught>=1,wrongly_escalated<=0.34"]) == 0


def test_a_failed_gate_names_the_set_and_figure_and_prints_that_sets_errors(tmp_path, capsys):
    code = _run(tmp_path, ["heldout:accuracy>=0.93", "realistic:in_scope_accuracy>=0.75,oos_caught>=0.8,"
                                                     "wrongly_escalated<=10%"])
    assert code == 1
    printed = capsys.readouterr().out
    failures = [line for line in printed.splitlines() if line.startswith("FAILED")]
    assert failures == ["FAILED: realistic in_scope_accuracy 0.3333, needs >= 0.75",
                        "FAILED: realistic in_scope_wrongly_escalated 0.3333, needs <= 0.1"]
    errors = printed.split(failures[-1], 1)[1]
    assert "logistics -> greet: 在吗 快递咋还没到" in errors
    assert "logistics -> nlu_fallback: 包裹丢了吧" in errors
    # Only the failing set's errors: the held-out set has none anyway, and passed.
    assert "heldout:" not in errors
    summary = json.loads((tmp_path / "nlu" / "summary.json").read_text(encoding="utf-8"))
    assert summary["passed"] is False
    assert summary["sets"]["heldout"]["passed"] is True
    assert [check["passed"] for check in summary["sets"]["realistic"]["gate"]] == [False, True, False]


def test_a_gate_on_a_figure_the_set_cannot_measure_fails_and_says_why(tmp_path, capsys):
    sets = {"noscope": (Path("n.yml"), HELDOUT[:2])}
    assert nlu.run(sets, FakeModel(), 0.5, 0.1, parse_gate("noscope:oos_caught>=0.5"), tmp_path) == 1
    assert "(the set has no out-of-scope messages)" in capsys.readouterr().out


def test_main_loads_the_model_once_and_evaluates_every_set(tmp_path, monkeypatch, capsys):
    from rasa.core.agent import Agent

    heldout, realistic = tmp_path / "heldout.yml", tmp_path / "realistic.yml"
    heldout.write_text('version: "3.1"\nnlu:\n- intent: refund\n  examples: |\n    - 我要退款\n'
                       '- intent: out_of_scope\n  examples: |\n    - 讲个笑话\n', encoding="utf-8")
    realistic.write_text('version: "3.1"\nnlu:\n- intent: logistics\n  examples: |\n    - 在吗 快递咋还没到\n',
                         encoding="utf-8")
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n- name: FallbackClassifier\n  threshold: 0.5\n", encoding="utf-8")

    class FakeAgent:
        async def parse_message(self, text):
            name, confidence = ANSWERS[text]
            return {"intent_ranking": [{"name": "nlu_fallback", "confidence": 0.99},
                                       {"name": name, "confidence": confidence}]}

    loaded = []
    monkeypatch.setattr(Agent, "load", staticmethod(lambda path, **kwargs: loaded.append(path) or FakeAgent()))
    code = nlu.main(["--model", "m.tar.gz", "--config", str(config), "--out", str(tmp_path / "out"),
                     "--set", f"heldout={heldout}", "--set", f"realistic={realistic}",
                     "--gate", "heldout:accuracy>=1,oos_caught>=1", "--gate", "realistic:in_scope_accuracy>=0.5"])
    assert loaded == ["m.tar.gz"]
    assert code == 1
    assert "FAILED: realistic in_scope_accuracy 0.0000, needs >= 0.5" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["ambiguity_threshold"] == 0.1
    assert summary["sets"]["heldout"]["passed"] and not summary["sets"]["realistic"]["passed"]
    assert (tmp_path / "out" / "realistic" / "errors.csv").is_file()
