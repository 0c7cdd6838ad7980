"""NLU benchmark: our pipeline against Rasa's stock pipeline and a TF-IDF baseline.

``make benchmark-nlu`` (``python -m bot.evaluation.benchmark``) runs, in one go:

- 5-fold stratified cross-validation on the training data (every NLU file
  under ``data/``; seeded, every system sees the same folds), then each system
  trained on all training data and scored on the held-out set
  ``tests/nlu_heldout.yml`` and the realistic set ``tests/nlu_realistic.yml``;
- the robustness suite (``bot/evaluation/robustness.py``) on each system's
  held-out model;
- the fallback-threshold curve (``bot/evaluation/threshold_curve.py``) for our
  pipeline.

The systems:

- ``ours``: ``config.yml``'s NLU pipeline as it is.
- ``stock``: the pipeline a ``rasa init`` project trains with (its config.yml
  leaves the pipeline commented out, so Rasa fills in
  ``rasa/engine/recipes/config_files/default_config.yml``: WhitespaceTokenizer,
  language ``en``, as shipped), read from the installed package; the only
  change is ``random_seed: 42`` on DIETClassifier and ResponseSelector, for
  repeatable runs.
- ``tfidf_lr``: plain jieba tokens of the raw text (jieba's own dictionary, no
  normalisation) → TF-IDF → logistic regression (scikit-learn, C=10), no
  fallback.

Each system is scored as it would act: a fallback counts as ``out_of_scope``
(``make eval``'s rule), using each system's own FallbackClassifier thresholds.
The classifier alone (top intent, no fallback) is reported too. Training is
NLU-only and Rasa's training cache is off, so every training is timed in full.
Writes ``benchmark.json``, ``benchmark.md`` and ``threshold_curve.png`` to
``reports/nlu-benchmark/``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from bot.evaluation import robustness, threshold_curve
from bot.evaluation.common import quiet_rasa
from bot.evaluation.nlu import Prediction, configured_thresholds, errors, load_examples, scored_label, summarise

SEED = 42
N_FOLDS = 5
TOP_RANKING = 10  # as many ranked intents as DIET reports by default

Examples = Sequence[tuple[str, str]]
Predict = Callable[[Examples], list[Prediction]]


@dataclass(frozen=True)
class System:
    key: str
    title: str
    threshold: float  # FallbackClassifier threshold; 0 for no fallback
    ambiguity: float
    train: Callable[[Examples, Path], Predict]


# --- folds ------------------------------------------------------------------


def stratified_folds(
    labels: Sequence[str], n_folds: int = N_FOLDS, seed: int = SEED
) -> list[tuple[list[int], list[int]]]:
    """(train, test) index lists; each intent spread evenly over the test folds."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [
        (sorted(int(i) for i in train), sorted(int(i) for i in test))
        for train, test in splitter.split(list(labels), list(labels))
    ]


def subset(examples: Examples, indices: Sequence[int]) -> list[tuple[str, str]]:
    return [examples[i] for i in indices]


# --- Rasa systems -----------------------------------------------------------


def our_config(config_path: Path) -> dict:
    return yaml.safe_load(config_path.read_text(encoding="utf-8"))


def stock_config() -> dict:
    """The pipeline `rasa init` projects train with, with fixed seeds."""
    import rasa.engine.recipes

    template = Path(rasa.engine.recipes.__file__).parent / "config_files" / "default_config.yml"
    config = yaml.safe_load(template.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] in {"DIETClassifier", "ResponseSelector"}:
            component["random_seed"] = SEED
    return config


def fallback_thresholds(config: dict) -> tuple[float, float]:
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component["threshold"]), float(component.get("ambiguity_threshold", 0.1))
    return 0.0, 0.0


def write_rasa_nlu_data(examples: Examples, path: Path) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    messages = [Message.build(text=text, intent=intent) for text, intent in examples]
    RasaYAMLWriter().dump(str(path), TrainingData(training_examples=messages))


def train_rasa_nlu(config: dict, examples: Examples, workdir: Path) -> Predict:
    """Train the NLU part only, load it, and return a predictor (after one warm-up parse)."""
    import rasa.model_training
    from rasa.core.agent import Agent

    from bot.evaluation.nlu import predict_with_agent

    config_path, data_path = workdir / "config.yml", workdir / "nlu.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    write_rasa_nlu_data(examples, data_path)
    model_path = rasa.model_training.train_nlu(str(config_path), str(data_path), str(workdir / "models"))
    agent = Agent.load(model_path)
    asyncio.run(predict_with_agent(agent, examples[:1]))  # first parse builds the graph
    return lambda batch: asyncio.run(predict_with_agent(agent, batch))


def rasa_system(key: str, title: str, config: dict) -> System:
    threshold, ambiguity = fallback_thresholds(config)
    return System(key, title, threshold, ambiguity, lambda examples, workdir: train_rasa_nlu(config, examples, workdir))


# --- the scikit-learn baseline ----------------------------------------------


def plain_jieba_tokenize():
    """jieba with its own dictionary only: a fresh instance, untouched by the
    domain dictionary our pipeline's JiebaTokenizer loads into jieba's global one."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    return lambda text: [token for token in tokenizer.lcut(text) if token.strip()]


def train_tfidf_lr(examples: Examples, workdir: Path) -> Predict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(tokenizer=plain_jieba_tokenize(), token_pattern=None, lowercase=True),
        # C=10: the best of 1, 10 and 100 on the CV folds (0.72, 0.76, 0.76 accuracy),
        # a choice that favours the baseline; everything else is scikit-learn's default.
        LogisticRegression(C=10, max_iter=3000, random_state=SEED),
    )
    model.fit([text for text, _ in examples], [intent for _, intent in examples])

    def predict(batch: Examples) -> list[Prediction]:
        predictions = []
        for text, gold in batch:  # one message at a time, as a bot receives them
            probabilities = model.predict_proba([text])[0]
            ranked = sorted(zip(model.classes_, probabilities, strict=True), key=lambda pair: -pair[1])[:TOP_RANKING]
            predictions.append(Prediction(text, gold, tuple((str(name), float(p)) for name, p in ranked)))
        return predictions

    return predict


def tfidf_system() -> System:
    return System("tfidf_lr", "jieba + TF-IDF + logistic regression", 0.0, 0.0, train_tfidf_lr)


def benchmark_systems(config_path: Path) -> list[System]:
    return [
        rasa_system("ours", "our pipeline (config.yml)", our_config(config_path)),
        rasa_system("stock", "stock `rasa init` pipeline", stock_config()),
        tfidf_system(),
    ]


# --- metrics ----------------------------------------------------------------


def per_intent_f1(predictions: Sequence[Prediction], threshold: float, ambiguity: float) -> dict[str, float]:
    from sklearn.metrics import f1_score

    gold = [p.gold for p in predictions]
    scored = [scored_label(p.decide(threshold, ambiguity)) for p in predictions]
    labels = sorted(set(gold))
    scores = f1_score(gold, scored, labels=labels, average=None, zero_division=0)
    return {label: round(float(score), 4) for label, score in zip(labels, scores, strict=True)}


def top_confusions(
    predictions: Sequence[Prediction], threshold: float, ambiguity: float, count: int = 15
) -> list[dict]:
    """The most frequent (gold, decided) mistakes: where the training data is thin."""
    from collections import Counter

    pairs = Counter(
        (p.gold, p.decide(threshold, ambiguity))
        for p in predictions
        if scored_label(p.decide(threshold, ambiguity)) != p.gold
    )
    return [{"gold": gold, "predicted": predicted, "count": n} for (gold, predicted), n in pairs.most_common(count)]


def score(predictions: Sequence[Prediction], system: System) -> dict:
    """Figures as the system acts (its own fallback) and for its classifier alone."""
    acting = summarise(predictions, system.threshold, system.ambiguity)
    classifier_only = summarise(predictions, 0.0, 0.0)
    return {
        **acting,
        "classifier_only_accuracy": classifier_only["intent_accuracy"],
        "classifier_only_macro_f1": classifier_only["macro_f1"],
    }


@dataclass
class Timed:
    predictions: list[Prediction]
    train_seconds: float
    inference_ms: float


def train_and_predict(system: System, train: Examples, test: Examples, workdir: Path) -> tuple[Timed, Predict]:
    started = time.perf_counter()
    predict = system.train(train, workdir)
    trained = time.perf_counter()
    predictions = predict(test)
    predicted = time.perf_counter()
    timed = Timed(predictions, round(trained - started, 2), round(1000 * (predicted - trained) / len(test), 2))
    return timed, predict


def mean_std(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.mean(values), 4),
        "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
    }


def cross_validate(system: System, examples: Examples, folds, workdir: Path) -> dict:
    fold_rows, pooled = [], []
    for number, (train_idx, test_idx) in enumerate(folds, start=1):
        fold_dir = workdir / f"{system.key}-fold{number}"
        fold_dir.mkdir(parents=True)
        timed, _ = train_and_predict(system, subset(examples, train_idx), subset(examples, test_idx), fold_dir)
        fold_rows.append(
            {
                **score(timed.predictions, system),
                "train_seconds": timed.train_seconds,
                "inference_ms": timed.inference_ms,
            }
        )
        pooled.extend(timed.predictions)
        print(
            f"  {system.key} fold {number}: accuracy {fold_rows[-1]['intent_accuracy']:.3f}"
            f"  macro-F1 {fold_rows[-1]['macro_f1']:.3f}  train {timed.train_seconds:.1f} s",
            flush=True,
        )
        gc.collect()
    summary = {
        key: mean_std([row[key] for row in fold_rows])
        for key in ("intent_accuracy", "macro_f1", "classifier_only_accuracy", "train_seconds", "inference_ms")
    }
    return {
        "folds": fold_rows,
        "summary": summary,
        "per_intent_f1": per_intent_f1(pooled, system.threshold, system.ambiguity),
        "top_confusions": top_confusions(pooled, system.threshold, system.ambiguity),
        "errors": errors(pooled, system.threshold, system.ambiguity),
        # The same trade-off on four times as many unseen messages (harder ones).
        "threshold_curve": threshold_curve.threshold_curve(pooled, system.ambiguity) if system.threshold else None,
    }


def held_out(system: System, train: Examples, test: Examples, workdir: Path) -> tuple[dict, list[Prediction], Predict]:
    run_dir = workdir / f"{system.key}-all"
    run_dir.mkdir(parents=True)
    timed, predict = train_and_predict(system, train, test, run_dir)
    figures = {
        **score(timed.predictions, system),
        "train_seconds": timed.train_seconds,
        "inference_ms": timed.inference_ms,
        "per_intent_f1": per_intent_f1(timed.predictions, system.threshold, system.ambiguity),
    }
    return figures, timed.predictions, predict


# --- tables -----------------------------------------------------------------


def _pm(figure: dict[str, float], digits: int = 3) -> str:
    return f"{figure['mean']:.{digits}f} ± {figure['std']:.{digits}f}"


def main_table(results: dict) -> str:
    lines = [
        "| system | CV accuracy | CV macro-F1 | held-out accuracy | held-out macro-F1 | held-out OOS caught"
        " | held-out in-scope escalated | classifier alone (CV / held-out) | train s (CV fold / all data)"
        " | ms per message |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results.values():
        cv, ho = result["cv"]["summary"], result["held_out"]
        lines.append(
            f"| {result['title']} | {_pm(cv['intent_accuracy'])} | {_pm(cv['macro_f1'])}"
            f" | {ho['intent_accuracy']:.3f} | {ho['macro_f1']:.3f} | {ho['out_of_scope_caught']:.3f}"
            f" | {ho['in_scope_wrongly_escalated']:.3f}"
            f" | {cv['classifier_only_accuracy']['mean']:.3f} / {ho['classifier_only_accuracy']:.3f}"
            f" | {cv['train_seconds']['mean']:.1f} / {ho['train_seconds']:.1f} | {ho['inference_ms']:.1f} |"
        )
    return "\n".join(lines)


def realistic_table(results: dict) -> str:
    lines = [
        "| system | accuracy | in-scope accuracy | macro-F1 | OOS caught | in-scope escalated |",
        "|---|---|---|---|---|---|",
    ]
    for result in results.values():
        figures = result["realistic"]
        lines.append(
            f"| {result['title']} | {figures['intent_accuracy']:.3f} | {figures['in_scope_accuracy']:.3f}"
            f" | {figures['macro_f1']:.3f} | {figures['out_of_scope_caught']:.3f}"
            f" | {figures['in_scope_wrongly_escalated']:.3f} |"
        )
    return "\n".join(lines)


def per_intent_table(results: dict) -> str:
    keys = list(results)
    intents = sorted(next(iter(results.values()))["held_out"]["per_intent_f1"])
    header = "| intent | " + " | ".join(f"{key} CV | {key} held-out" for key in keys) + " |"
    lines = [header, "|---|" + "---|---|" * len(keys)]
    for intent in intents:
        cells = []
        for key in keys:
            cells.append(f"{results[key]['cv']['per_intent_f1'].get(intent, 0.0):.2f}")
            cells.append(f"{results[key]['held_out']['per_intent_f1'].get(intent, 0.0):.2f}")
        lines.append(f"| {intent} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def robustness_table(results: dict) -> str:
    keys = list(results)
    first = results[keys[0]]["robustness"]
    lines = [
        "| rewrite of the held-out set | messages changed | "
        + " | ".join(f"{key} accuracy (drop)" for key in keys)
        + " |",
        "|---|---|" + "---|" * len(keys),
        "| clean | 0 | " + " | ".join(f"{results[key]['robustness']['clean_accuracy']:.3f}" for key in keys) + " |",
    ]
    for index, row in enumerate(first["transformations"]):
        cells = []
        for key in keys:
            other = results[key]["robustness"]["transformations"][index]
            # Shown as a change: a drop of 2.5 points reads "-2.5".
            cells.append(f"{other['accuracy']:.3f} ({-other['drop_points']:+.1f})")
        lines.append(f"| {row['description']} | {row['changed_messages']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(report: dict) -> str:
    results = report["systems"]
    curve = report["threshold_curve"]
    sections = [
        f"# NLU benchmark\n\n{report['training_examples']} training examples, {report['held_out_examples']}"
        f" held-out; {N_FOLDS}-fold stratified CV (seed {SEED}). Total run time {report['total_minutes']:.1f} min.",
        "## Systems\n\n" + main_table(results),
        "## Per-intent F1 (CV pooled over folds, and held-out)\n\n" + per_intent_table(results),
        "## Robustness (held-out accuracy, change in points)\n\n" + robustness_table(results),
    ]
    if all("realistic" in result for result in results.values()):
        sections.insert(
            2,
            f"## Realistic set ({report.get('realistic_examples', 0)} messages, each system's"
            f" all-data model)\n\n" + realistic_table(results),
        )
    if curve:
        sections.append(
            f"## Fallback threshold curve (our pipeline, held-out; configured {curve['configured']},"
            f" chosen {curve['chosen']})\n\n" + threshold_curve.markdown_table(curve["curve"], curve["chosen"])
        )
    if "ours" in results and results["ours"]["cv"].get("threshold_curve"):
        sections.append(
            "## Fallback threshold curve (our pipeline, CV folds pooled)\n\n"
            + threshold_curve.markdown_table(results["ours"]["cv"]["threshold_curve"], None)
        )
    return "\n\n".join(sections) + "\n"


# --- run --------------------------------------------------------------------


def run(
    config_path: Path,
    data_path: Path,
    held_out_path: Path,
    out: Path,
    systems_filter: Sequence[str] = (),
    held_out_only: bool = False,
    realistic_path: Optional[Path] = None,
) -> dict:
    started = time.perf_counter()
    training, test = load_examples(data_path), load_examples(held_out_path)
    realistic = load_examples(realistic_path) if realistic_path and realistic_path.exists() else []
    folds = stratified_folds([intent for _, intent in training])
    systems = [s for s in benchmark_systems(config_path) if not systems_filter or s.key in systems_filter]
    results, curve = {}, None
    with tempfile.TemporaryDirectory(prefix="nlu-benchmark-") as temp:
        workdir = Path(temp)
        for system in systems:
            cv = None
            if not held_out_only:
                print(f"{system.title}: {N_FOLDS}-fold cross-validation", flush=True)
                cv = cross_validate(system, training, folds, workdir)
            print(f"{system.title}: all training data, held-out set, robustness", flush=True)
            figures, predictions, predict = held_out(system, training, test, workdir)
            robust = robustness.robustness_report(predict, test, system.threshold, system.ambiguity)
            results[system.key] = {
                "title": system.title,
                "fallback": [system.threshold, system.ambiguity],
                "cv": cv,
                "held_out": figures,
                "robustness": robust,
            }
            if realistic:
                results[system.key]["realistic"] = score(predict(realistic), system)
            if system.key == "ours":
                curve = threshold_curve_report(predictions, config_path, out, cv["threshold_curve"] if cv else None)
            del predict
            gc.collect()
    report = {
        "training_examples": len(training),
        "held_out_examples": len(test),
        "realistic_examples": len(realistic),
        "folds": N_FOLDS,
        "seed": SEED,
        "fold_test_indices": [test_idx for _, test_idx in folds],
        "systems": results,
        "threshold_curve": curve,
        "total_minutes": round((time.perf_counter() - started) / 60, 2),
    }
    return report


def threshold_curve_report(
    predictions: Sequence[Prediction], config_path: Path, out: Path, cv_curve: Optional[Sequence[dict]] = None
) -> dict:
    configured, ambiguity = configured_thresholds(config_path)
    curve = threshold_curve.threshold_curve(predictions, ambiguity)
    return choose_and_draw(curve, configured, ambiguity, cv_curve, out)


def choose_and_draw(
    curve: Sequence[dict], configured: float, ambiguity: float, cv_curve: Optional[Sequence[dict]], out: Path
) -> dict:
    chosen = threshold_curve.choose_threshold(curve, configured, cv_curve)
    chosen_threshold = chosen["threshold"] if chosen else None
    threshold_curve.draw_curve(curve, chosen_threshold, configured, out / "threshold_curve.png", cv_curve)
    return {"configured": configured, "ambiguity": ambiguity, "chosen": chosen_threshold, "curve": curve}


def rerender(out: Path) -> dict:
    """benchmark.md and the chart again from benchmark.json, after a change to the report code."""
    report = json.loads((out / "benchmark.json").read_text(encoding="utf-8"))
    old = report["threshold_curve"]
    cv_curve = report["systems"].get("ours", {}).get("cv", {}).get("threshold_curve")
    report["threshold_curve"] = choose_and_draw(old["curve"], old["configured"], old["ambiguity"], cv_curve, out)
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--data", type=Path, default=Path("data"), help="an NLU file, or a folder of them")
    parser.add_argument("--held-out", type=Path, default=Path("tests/nlu_heldout.yml"))
    parser.add_argument(
        "--realistic",
        type=Path,
        default=Path("tests/nlu_realistic.yml"),
        help="a second held-out set, scored on each system's all-data model",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/nlu-benchmark"))
    parser.add_argument("--systems", nargs="*", default=(), help="only these (ours, stock, tfidf_lr)")
    parser.add_argument(
        "--held-out-only", action="store_true", help="skip cross-validation (a quick look while working on the data)"
    )
    parser.add_argument(
        "--rerender",
        action="store_true",
        help="no training: rewrite benchmark.md and the chart from the existing benchmark.json",
    )
    args = parser.parse_args(argv)

    if args.rerender:
        report = rerender(args.out)
        (args.out / "benchmark.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        (args.out / "benchmark.md").write_text(markdown_report(report), encoding="utf-8")
        print(markdown_report(report))
        return 0

    quiet_rasa()
    args.out.mkdir(parents=True, exist_ok=True)
    report = run(args.config, args.data, args.held_out, args.out, args.systems, args.held_out_only, args.realistic)
    (args.out / "benchmark.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    if args.held_out_only:
        print(
            json.dumps(
                {
                    key: {k: v for k, v in result["held_out"].items() if k != "per_intent_f1"}
                    for key, result in report["systems"].items()
                },
                indent=1,
            )
        )
        print(robustness_table(report["systems"]))
        return 0
    markdown = markdown_report(report)
    (args.out / "benchmark.md").write_text(markdown, encoding="utf-8")
    print("\n" + markdown)
    print(f"Wrote {args.out}/benchmark.json, benchmark.md, threshold_curve.png ({report['total_minutes']:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
