"""Evaluate the trained NLU on the held-out set (``make eval``).

Prints intent accuracy, macro-F1 and the out-of-scope catch rate, sweeps the
fallback threshold, and writes the confusion matrix (CSV and PNG), a
histogram of the top intent confidence (in-scope vs out-of-scope, with the
threshold; PNG) and the figures (JSON) to the output folder. Each message is
parsed once; fallback decisions for other thresholds are recomputed from the
intent ranking.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from rasa.shared.nlu.training_data.loading import load_data

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
THRESHOLDS = [round(0.3 + 0.05 * step, 2) for step in range(13)]  # 0.30 .. 0.90


@dataclass(frozen=True)
class Prediction:
    text: str
    gold: str
    ranking: Tuple[Tuple[str, float], ...]  # classifier ranking without nlu_fallback

    def decide(self, threshold: float, ambiguity: float) -> str:
        """The intent the bot acts on, as the FallbackClassifier would decide."""
        if not self.ranking:
            return FALLBACK
        top_name, top_confidence = self.ranking[0]
        runner_up = self.ranking[1][1] if len(self.ranking) > 1 else 0.0
        if top_confidence < threshold or top_confidence - runner_up < ambiguity:
            return FALLBACK
        return top_name


def load_examples(path: Path) -> List[Tuple[str, str]]:
    data = load_data(str(path))
    return [(example.get("text"), example.get("intent")) for example in data.intent_examples]


async def predict(model_path: Path, examples: Sequence[Tuple[str, str]]) -> List[Prediction]:
    from rasa.core.agent import Agent

    return await predict_with_agent(Agent.load(str(model_path)), examples)


async def predict_with_agent(agent, examples: Sequence[Tuple[str, str]]) -> List[Prediction]:
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


def summarise(predictions: Sequence[Prediction], threshold: float, ambiguity: float) -> Dict:
    from sklearn.metrics import f1_score

    decided = [p.decide(threshold, ambiguity) for p in predictions]
    gold = [p.gold for p in predictions]
    scored = [scored_label(label) for label in decided]
    in_scope = [d for p, d in zip(predictions, decided) if p.gold != OUT_OF_SCOPE]
    out_scope = [d for p, d in zip(predictions, decided) if p.gold == OUT_OF_SCOPE]
    return {
        "threshold": threshold,
        "ambiguity_threshold": ambiguity,
        "examples": len(predictions),
        "intent_accuracy": _ratio(sum(g == s for g, s in zip(gold, scored)), len(gold)),
        "macro_f1": round(float(f1_score(gold, scored, average="macro", zero_division=0)), 4),
        "out_of_scope_caught": _ratio(sum(d in {OUT_OF_SCOPE, FALLBACK} for d in out_scope), len(out_scope)),
        "in_scope_wrongly_escalated": _ratio(sum(d == FALLBACK for d in in_scope), len(in_scope)),
        "out_of_scope_examples": len(out_scope),
    }


def threshold_sweep(predictions: Sequence[Prediction], ambiguity: float) -> List[Dict]:
    return [summarise(predictions, threshold, ambiguity) for threshold in THRESHOLDS]


def errors(predictions: Sequence[Prediction], threshold: float, ambiguity: float) -> List[Dict]:
    wrong = []
    for prediction in predictions:
        decided = prediction.decide(threshold, ambiguity)
        if scored_label(decided) != prediction.gold:
            wrong.append({"text": prediction.text, "gold": prediction.gold, "predicted": decided})
    return wrong


def write_confusion_matrix(predictions: Sequence[Prediction], threshold: float, ambiguity: float, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    gold = [p.gold for p in predictions]
    decided = [p.decide(threshold, ambiguity) for p in predictions]
    labels = sorted(set(gold) | set(decided))
    matrix = confusion_matrix(gold, decided, labels=labels)
    rows = ["gold\\predicted," + ",".join(labels)]
    rows += [f"{label}," + ",".join(str(v) for v in row) for label, row in zip(labels, matrix)]
    (out_dir / "confusion_matrix.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    figure, axes = plt.subplots(figsize=(11, 9))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                axes.text(j, i, str(value), ha="center", va="center", fontsize=8,
                          color="white" if value > matrix.max() / 2 else "black")
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(f"Held-out intents (fallback threshold {threshold})")
    figure.tight_layout()
    figure.savefig(out_dir / "confusion_matrix.png", dpi=110)
    plt.close(figure)


def write_confidence_histogram(predictions: Sequence[Prediction], threshold: float, out_dir: Path) -> None:
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
    axes.hist([in_scope, out_scope], bins=bins, color=["#3b78c2", "#e8883a"],
              label=[f"in scope ({len(in_scope)})", f"out of scope ({len(out_scope)})"])
    axes.axvline(threshold, color="#d9534f", linestyle="--", label=f"fallback threshold {threshold}")
    axes.set_xlabel("top intent confidence")
    # Log scale: the few messages near the threshold are the point, not the peak at 1.0.
    axes.set_yscale("log")
    axes.set_ylabel("held-out messages (log scale)")
    axes.set_title("Held-out messages by top intent confidence")
    axes.legend()
    figure.tight_layout()
    figure.savefig(out_dir / "confidence_histogram.png", dpi=110)
    plt.close(figure)


def configured_thresholds(config_path: Path) -> Tuple[float, float]:
    import yaml

    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component["threshold"]), float(component.get("ambiguity_threshold", 0.1))
    raise ValueError(f"{config_path} has no FallbackClassifier")


def main(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/triage.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu_heldout.yml"))
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--out", type=Path, default=Path("reports/nlu"))
    parser.add_argument("--min-accuracy", type=float, default=0.0, help="fail below this accuracy")
    parser.add_argument("--min-oos-caught", type=float, default=0.0, help="fail below this catch rate")
    args = parser.parse_args(argv)

    threshold, ambiguity = configured_thresholds(args.config)
    predictions = asyncio.run(predict(args.model, load_examples(args.data)))
    figures = summarise(predictions, threshold, ambiguity)
    sweep = threshold_sweep(predictions, ambiguity)

    args.out.mkdir(parents=True, exist_ok=True)
    write_confusion_matrix(predictions, threshold, ambiguity, args.out)
    write_confidence_histogram(predictions, threshold, args.out)
    report = {"configured": figures, "threshold_sweep": sweep, "errors": errors(predictions, threshold, ambiguity)}
    (args.out / "nlu_eval.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")

    print(f"Held-out NLU ({figures['examples']} examples, threshold {threshold}):")
    print(f"  intent accuracy             {figures['intent_accuracy']:.3f}")
    print(f"  macro-F1                    {figures['macro_f1']:.3f}")
    print(f"  out-of-scope to fallback    {figures['out_of_scope_caught']:.3f}")
    print(f"  in-scope wrongly escalated  {figures['in_scope_wrongly_escalated']:.3f}")
    print("\n  threshold  accuracy  macro-F1  oos-caught  in-scope-escalated")
    for row in sweep:
        print(f"  {row['threshold']:9.2f}  {row['intent_accuracy']:8.3f}  {row['macro_f1']:8.3f}"
              f"  {row['out_of_scope_caught']:10.3f}  {row['in_scope_wrongly_escalated']:18.3f}")
    print(f"\nWrote {args.out}/nlu_eval.json, confusion_matrix.csv, confusion_matrix.png, confidence_histogram.png")
    if figures["intent_accuracy"] < args.min_accuracy or figures["out_of_scope_caught"] < args.min_oos_caught:
        print(f"FAILED: below --min-accuracy {args.min_accuracy} or --min-oos-caught {args.min_oos_caught}")
        return 1
    return 0


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
