"""Evaluate the trained NLU on the held-out sets (``make eval``).

One run loads the model once and evaluates several named sets of labelled
messages (Rasa NLU YAML), by default::

    --set heldout=tests/nlu_heldout.yml --set realistic=tests/nlu_realistic.yml

For each set it prints intent accuracy, in-scope accuracy, macro-F1, the
out-of-scope catch rate and the share of in-scope messages wrongly escalated,
sweeps the fallback threshold, and writes to ``OUT/<set>/``: the confusion
matrix (``confusion_matrix.csv``, ``.png``), a histogram of the top intent
confidence (in-scope vs out-of-scope, with the threshold;
``confidence_histogram.png``), the misunderstood messages (``errors.csv``) and
the figures, sweep and errors (``nlu_eval.json``). ``OUT/summary.json`` holds
every set's figures and gate results. Each message is parsed once; fallback
decisions for other thresholds are recomputed from the intent ranking.

Gates, one ``--gate`` per set (repeat the option; conditions on the same set
add up; quote them in a shell, where ``>`` and ``<`` redirect)::

    --gate 'heldout:accuracy>=0.97,oos_caught>=0.95'
    --gate 'realistic:in_scope_accuracy>=0.95,wrongly_escalated<=3%,oos_caught>=0.92'

A condition is ``FIGURE>=VALUE`` or ``FIGURE<=VALUE``; VALUE is a fraction
(``0.03``) or a percentage (``3%``). Figures (short name, or the key in the
JSON): ``accuracy`` (``intent_accuracy``: all messages, a fallback counting as
out_of_scope), ``in_scope_accuracy`` (messages whose gold intent is not
out_of_scope), ``macro_f1``, ``oos_caught`` (``out_of_scope_caught``) and
``wrongly_escalated`` (``in_scope_wrongly_escalated``). A gate on a set that is
not evaluated is a usage error. If any condition fails, the run exits with 1
after printing which figure of which set failed and that set's errors.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from rasa.shared.nlu.training_data.loading import load_data

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
THRESHOLDS = [round(0.3 + 0.05 * step, 2) for step in range(13)]  # 0.30 .. 0.90


@dataclass(frozen=True)
class Prediction:
    text: str
    gold: str
    ranking: tuple[tuple[str, float], ...]  # classifier ranking without nlu_fallback

    def decide(self, threshold: float, ambiguity: float) -> str:
        """The intent the bot acts on, as the FallbackClassifier would decide."""
        if not self.ranking:
            return FALLBACK
        top_name, top_confidence = self.ranking[0]
        runner_up = self.ranking[1][1] if len(self.ranking) > 1 else 0.0
        if top_confidence < threshold or top_confidence - runner_up < ambiguity:
            return FALLBACK
        return top_name


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) of an NLU file, or of every NLU file under a folder (``data/``)."""
    files = [path] if Path(path).is_file() else nlu_files(Path(path))
    return [
        (example.get("text"), example.get("intent"))
        for file in files
        for example in load_data(str(file)).intent_examples
    ]


def nlu_files(folder: Path) -> list[Path]:
    """The NLU training files under ``folder``, chosen as ``rasa train`` chooses them."""
    import rasa.shared.data

    return [Path(file) for file in rasa.shared.data.get_data_files([str(folder)], rasa.shared.data.is_nlu_file)]


async def predict(model_path: Path, examples: Sequence[tuple[str, str]]) -> list[Prediction]:
    from rasa.core.agent import Agent

    return await predict_with_agent(Agent.load(str(model_path)), examples)


async def predict_with_agent(agent, examples: Sequence[tuple[str, str]]) -> list[Prediction]:
    """Parse each message with a loaded agent (NLU-only models too)."""
    predictions = []
    for text, gold in examples:
        parsed = await agent.parse_message(text)
        ranking = tuple(
            (item["name"], float(item["confidence"]))
            for item in parsed.get("intent_ranking", [])
            if item["name"] != FALLBACK
        )
        predictions.append(Prediction(text, gold, ranking))
    return predictions


def scored_label(predicted: str) -> str:
    # Sending an out-of-scope message to the fallback is the right outcome.
    return OUT_OF_SCOPE if predicted == FALLBACK else predicted


def summarise(predictions: Sequence[Prediction], threshold: float, ambiguity: float) -> dict:
    from sklearn.metrics import f1_score

    decided = [p.decide(threshold, ambiguity) for p in predictions]
    gold = [p.gold for p in predictions]
    scored = [scored_label(label) for label in decided]
    in_scope = [(p.gold, d) for p, d in zip(predictions, decided, strict=True) if p.gold != OUT_OF_SCOPE]
    out_scope = [d for p, d in zip(predictions, decided, strict=True) if p.gold == OUT_OF_SCOPE]
    return {
        "threshold": threshold,
        "ambiguity_threshold": ambiguity,
        "examples": len(predictions),
        "intent_accuracy": _ratio(sum(g == s for g, s in zip(gold, scored, strict=True)), len(gold)),
        # The same, on the messages the bot should answer (gold not out_of_scope).
        "in_scope_accuracy": _ratio(sum(g == scored_label(d) for g, d in in_scope), len(in_scope)),
        "macro_f1": round(float(f1_score(gold, scored, average="macro", zero_division=0)), 4) if gold else 0.0,
        "out_of_scope_caught": _ratio(sum(d in {OUT_OF_SCOPE, FALLBACK} for d in out_scope), len(out_scope)),
        "in_scope_wrongly_escalated": _ratio(sum(d == FALLBACK for _, d in in_scope), len(in_scope)),
        "in_scope_examples": len(in_scope),
        "out_of_scope_examples": len(out_scope),
    }


def threshold_sweep(predictions: Sequence[Prediction], ambiguity: float) -> list[dict]:
    return [summarise(predictions, threshold, ambiguity) for threshold in THRESHOLDS]


def errors(predictions: Sequence[Prediction], threshold: float, ambiguity: float) -> list[dict]:
    wrong = []
    for prediction in predictions:
        decided = prediction.decide(threshold, ambiguity)
        if scored_label(decided) != prediction.gold:
            wrong.append({"text": prediction.text, "gold": prediction.gold, "predicted": decided})
    return wrong


def write_confusion_matrix(
    predictions: Sequence[Prediction], threshold: float, ambiguity: float, out_dir: Path, title: str = "Held-out"
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    gold = [p.gold for p in predictions]
    decided = [p.decide(threshold, ambiguity) for p in predictions]
    labels = sorted(set(gold) | set(decided))
    matrix = confusion_matrix(gold, decided, labels=labels)
    rows = ["gold\\predicted," + ",".join(labels)]
    rows += [f"{label}," + ",".join(str(v) for v in row) for label, row in zip(labels, matrix, strict=True)]
    (out_dir / "confusion_matrix.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    figure, axes = plt.subplots(figsize=(11, 9))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                axes.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value > matrix.max() / 2 else "black",
                )
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(f"{title} intents (fallback threshold {threshold})")
    figure.tight_layout()
    figure.savefig(out_dir / "confusion_matrix.png", dpi=110)
    plt.close(figure)


def write_confidence_histogram(
    predictions: Sequence[Prediction], threshold: float, out_dir: Path, title: str = "Held-out"
) -> None:
    """Where the threshold cuts: top confidence of in-scope vs out-of-scope messages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def top_confidence(prediction: Prediction) -> float:
        return prediction.ranking[0][1] if prediction.ranking else 0.0

    in_scope = [top_confidence(p) for p in predictions if p.gold != OUT_OF_SCOPE]
    out_scope = [top_confidence(p) for p in predictions if p.gold == OUT_OF_SCOPE]
    figure, axes = plt.subplots(figsize=(8, 4))
    bins = [step / 20 for step in range(21)]
    axes.hist(
        [in_scope, out_scope],
        bins=bins,
        color=["#3b78c2", "#e8883a"],
        label=[f"in scope ({len(in_scope)})", f"out of scope ({len(out_scope)})"],
    )
    axes.axvline(threshold, color="#d9534f", linestyle="--", label=f"fallback threshold {threshold}")
    axes.set_xlabel("top intent confidence")
    # Log scale: the few messages near the threshold are the point, not the peak at 1.0.
    axes.set_yscale("log")
    axes.set_ylabel("messages (log scale)")
    axes.set_title(f"{title} messages by top intent confidence")
    axes.legend()
    figure.tight_layout()
    figure.savefig(out_dir / "confidence_histogram.png", dpi=110)
    plt.close(figure)


def configured_thresholds(config_path: Path) -> tuple[float, float]:
    import yaml

    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component["threshold"]), float(component.get("ambiguity_threshold", 0.1))
    raise ValueError(f"{config_path} has no FallbackClassifier")


# --- sets and gates ---------------------------------------------------------

DEFAULT_SETS = (("heldout", Path("tests/nlu_heldout.yml")), ("realistic", Path("tests/nlu_realistic.yml")))

# A gate's short figure names and the keys summarise() gives them.
FIGURES = {
    "accuracy": "intent_accuracy",
    "in_scope_accuracy": "in_scope_accuracy",
    "macro_f1": "macro_f1",
    "oos_caught": "out_of_scope_caught",
    "wrongly_escalated": "in_scope_wrongly_escalated",
}
_FIGURE_NAMES = {**FIGURES, **{key: key for key in FIGURES.values()}}
_SET_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_CONDITION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(>=|<=)(\d+(?:\.\d*)?|\.\d+)(%?)$")

Examples = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Condition:
    """One figure of one set against a bound, e.g. realistic: in_scope_wrongly_escalated <= 0.03."""

    set_name: str
    figure: str  # the key in summarise()'s figures
    operator: str  # ">=" or "<="
    bound: float

    def holds(self, figures: dict) -> bool:
        value = figures[self.figure]
        # The figures are rounded to 4 digits; a bound met exactly passes.
        return value >= self.bound - 1e-9 if self.operator == ">=" else value <= self.bound + 1e-9

    def __str__(self) -> str:
        return f"{self.set_name}:{self.figure}{self.operator}{self.bound:g}"


def parse_set(value: str) -> tuple[str, Path]:
    """``NAME=PATH`` → (name, path)."""
    name, separator, path = (part.strip() for part in value.partition("="))
    if not separator or not _SET_NAME.match(name) or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (NAME of letters, digits, _ or -), got {value!r}")
    return name, Path(path)


def parse_gate(value: str) -> list[Condition]:
    """``SET:FIGURE>=VALUE,FIGURE<=VALUE,...`` → one Condition per figure."""
    set_name, separator, body = (part.strip() for part in value.partition(":"))
    if not separator or not _SET_NAME.match(set_name) or not body:
        raise argparse.ArgumentTypeError(f"expected SET:FIGURE>=VALUE[,FIGURE<=VALUE...], got {value!r}")
    conditions = []
    for text in body.split(","):
        match = _CONDITION.match(re.sub(r"\s+", "", text))
        if not match:
            raise argparse.ArgumentTypeError(f"{text.strip()!r} in {value!r}: expected FIGURE>=VALUE or FIGURE<=VALUE")
        name, operator, number, percent = match.groups()
        if name not in _FIGURE_NAMES:
            raise argparse.ArgumentTypeError(f"unknown figure {name!r} in {value!r}; figures: {', '.join(FIGURES)}")
        bound = float(number) / 100 if percent else float(number)
        if bound > 1:
            raise argparse.ArgumentTypeError(
                f"{text.strip()!r} in {value!r}: figures are fractions from 0 to 1 (write {number}% for a percentage)"
            )
        conditions.append(Condition(set_name, _FIGURE_NAMES[name], operator, bound))
    return conditions


def check_gate(conditions: Sequence[Condition], figures: dict) -> list[dict]:
    return [
        {
            "condition": str(condition),
            "figure": condition.figure,
            "operator": condition.operator,
            "bound": condition.bound,
            "value": figures[condition.figure],
            "passed": condition.holds(figures),
        }
        for condition in conditions
    ]


# --- one run over the sets --------------------------------------------------


def evaluate_set(
    name: str,
    data: Path,
    predictions: Sequence[Prediction],
    threshold: float,
    ambiguity: float,
    conditions: Sequence[Condition] = (),
) -> dict:
    figures = summarise(predictions, threshold, ambiguity)
    gate = check_gate(conditions, figures)
    return {
        "set": name,
        "data": str(data),
        "configured": figures,
        "threshold_sweep": threshold_sweep(predictions, ambiguity),
        "errors": errors(predictions, threshold, ambiguity),
        "gate": gate,
        "passed": all(check["passed"] for check in gate),
    }


def write_errors_csv(wrong: Sequence[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["gold", "predicted", "text"])
        writer.writeheader()
        writer.writerows({key: error[key] for key in ("gold", "predicted", "text")} for error in wrong)


def write_set_outputs(
    result: dict, predictions: Sequence[Prediction], threshold: float, ambiguity: float, out_dir: Path
) -> None:
    """OUT/<set>/: confusion_matrix.csv/.png, confidence_histogram.png, errors.csv, nlu_eval.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_confusion_matrix(predictions, threshold, ambiguity, out_dir, title=result["set"])
    write_confidence_histogram(predictions, threshold, out_dir, title=result["set"])
    write_errors_csv(result["errors"], out_dir / "errors.csv")
    (out_dir / "nlu_eval.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


def summary(results: Sequence[dict], model: str, threshold: float, ambiguity: float) -> dict:
    return {
        "model": model,
        "threshold": threshold,
        "ambiguity_threshold": ambiguity,
        "passed": all(result["passed"] for result in results),
        "sets": {
            result["set"]: {
                "data": result["data"],
                "figures": result["configured"],
                "errors": len(result["errors"]),
                "gate": result["gate"],
                "passed": result["passed"],
            }
            for result in results
        },
    }


def print_set(result: dict) -> None:
    figures = result["configured"]
    print(
        f"{result['set']} ({result['data']}: {figures['examples']} examples, {figures['in_scope_examples']}"
        f" in scope, {figures['out_of_scope_examples']} out of scope; threshold {figures['threshold']}):"
    )
    print(f"  intent accuracy             {figures['intent_accuracy']:.3f}")
    print(f"  in-scope accuracy           {figures['in_scope_accuracy']:.3f}")
    print(f"  macro-F1                    {figures['macro_f1']:.3f}")
    print(f"  out-of-scope to fallback    {figures['out_of_scope_caught']:.3f}")
    print(f"  in-scope wrongly escalated  {figures['in_scope_wrongly_escalated']:.3f}")
    print("\n  threshold  accuracy  in-scope  macro-F1  oos-caught  in-scope-escalated")
    for row in result["threshold_sweep"]:
        print(
            f"  {row['threshold']:9.2f}  {row['intent_accuracy']:8.3f}  {row['in_scope_accuracy']:8.3f}"
            f"  {row['macro_f1']:8.3f}  {row['out_of_scope_caught']:10.3f}  {row['in_scope_wrongly_escalated']:18.3f}"
        )
    print()


def summary_table(results: Sequence[dict]) -> str:
    width = max([len("set")] + [len(result["set"]) for result in results])
    lines = [f"{'set':<{width}}  examples  accuracy  in-scope  macro-F1  oos-caught  escalated  gate"]
    for result in results:
        figures = result["configured"]
        gate = ("passed" if result["passed"] else "FAILED") if result["gate"] else "-"
        lines.append(
            f"{result['set']:<{width}}  {figures['examples']:8d}  {figures['intent_accuracy']:8.3f}"
            f"  {figures['in_scope_accuracy']:8.3f}  {figures['macro_f1']:8.3f}"
            f"  {figures['out_of_scope_caught']:10.3f}  {figures['in_scope_wrongly_escalated']:9.3f}  {gate}"
        )
    return "\n".join(lines)


def print_failures(results: Sequence[dict]) -> None:
    for result in results:
        if result["passed"]:
            continue
        figures = result["configured"]
        for check in result["gate"]:
            if not check["passed"]:
                empty = {
                    "out_of_scope_caught": "out_of_scope_examples",
                    "in_scope_accuracy": "in_scope_examples",
                    "in_scope_wrongly_escalated": "in_scope_examples",
                }.get(check["figure"], "examples")
                note = (
                    f" (the set has no {empty.replace('_examples', '').replace('_', '-')} messages)"
                    if not figures[empty]
                    else ""
                )
                print(
                    f"FAILED: {result['set']} {check['figure']} {check['value']:.4f}, needs"
                    f" {check['operator']} {check['bound']:g}{note}"
                )
        print(f"{result['set']}: {len(result['errors'])} errors (gold -> predicted: text)")
        for error in result["errors"]:
            print(f"  {error['gold']} -> {error['predicted']}: {error['text']}")


def run(
    sets: dict[str, tuple[Path, Examples]],
    predict: Callable[[Examples], list[Prediction]],
    threshold: float,
    ambiguity: float,
    conditions: Sequence[Condition],
    out: Path,
    model: str = "",
) -> int:
    """Every set through one predictor; outputs per set and the summary; 1 if a gate fails."""
    results = []
    for name, (data, examples) in sets.items():
        predictions = predict(examples)
        result = evaluate_set(
            name,
            data,
            predictions,
            threshold,
            ambiguity,
            [condition for condition in conditions if condition.set_name == name],
        )
        write_set_outputs(result, predictions, threshold, ambiguity, out / name)
        print_set(result)
        results.append(result)
    report = summary(results, model, threshold, ambiguity)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(summary_table(results))
    print(
        f"\nWrote {out}/summary.json and, per set, {out}/<set>/nlu_eval.json, errors.csv,"
        f" confusion_matrix.csv, confusion_matrix.png, confidence_histogram.png"
    )
    if not report["passed"]:
        print()
        print_failures(results)
        return 1
    return 0


def parse_arguments(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument("--model", type=Path, default=Path("models/triage.tar.gz"))
    parser.add_argument(
        "--set",
        dest="sets",
        metavar="NAME=PATH",
        type=parse_set,
        action="append",
        help="a named set to evaluate (repeat; default: "
        + " ".join(f"{name}={path}" for name, path in DEFAULT_SETS)
        + ")",
    )
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--out", type=Path, default=Path("reports/nlu"))
    parser.add_argument(
        "--gate",
        dest="gates",
        metavar="SET:FIGURE>=VALUE,...",
        type=parse_gate,
        action="append",
        default=[],
        help=f"fail unless these figures of SET hold (repeat); figures: {', '.join(FIGURES)}",
    )
    args = parser.parse_args(argv)

    args.sets = args.sets or list(DEFAULT_SETS)
    names = [name for name, _ in args.sets]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        parser.error(f"--set: {', '.join(duplicates)} given more than once")
    args.sets = dict(args.sets)
    args.conditions = [condition for gate in args.gates for condition in gate]
    for condition in args.conditions:
        if condition.set_name not in args.sets:
            parser.error(f"--gate {condition}: no set named {condition.set_name!r} (sets: {', '.join(names)})")
    missing = [f"{name}={path}" for name, path in args.sets.items() if not path.is_file()]
    if missing:
        parser.error(f"--set: no such file: {', '.join(missing)}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_arguments(argv)
    threshold, ambiguity = configured_thresholds(args.config)
    sets: dict[str, tuple[Path, Examples]] = {name: (path, load_examples(path)) for name, path in args.sets.items()}

    from rasa.core.agent import Agent

    agent = Agent.load(str(args.model))  # one model for every set
    return run(
        sets,
        lambda examples: asyncio.run(predict_with_agent(agent, examples)),
        threshold,
        ambiguity,
        args.conditions,
        args.out,
        str(args.model),
    )


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def leak_key(text: str) -> str:
    """What two messages share when one repeats the other (the train/held-out leak check).

    The bot's normaliser (full width, traditional characters, invisible
    characters), then no whitespace, punctuation or symbols, case folded:
    "你好 呀" and "你好呀！" have one key, so have "在嗎" and "在吗".
    """
    import unicodedata

    from bot.text import normalize

    return "".join(
        char for char in normalize(text) if not char.isspace() and unicodedata.category(char)[0] not in "PS"
    ).casefold()


if __name__ == "__main__":
    raise SystemExit(main())
