"""The fallback-threshold curve: real questions escalated against out-of-scope let through.

For each FallbackClassifier threshold from 0.30 to 0.90 (ambiguity threshold
as configured), on the held-out set: the share of in-scope messages wrongly
sent to the fallback, and the share of out-of-scope messages that slip
through to an in-scope intent. Draws both as a chart and picks the threshold
that meets the goals with the best accuracy (``choose_threshold``). ``python -m
bot.evaluation.threshold_curve`` runs it on the trained model; ``make
benchmark-nlu`` on the pipeline it trains.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from bot.evaluation.nlu import Prediction, configured_thresholds, load_examples, threshold_sweep

# The goals: at least 90% of out-of-scope messages caught, at most 3%
# of in-scope messages wrongly escalated.
MIN_OOS_CAUGHT = 0.90
MAX_IN_SCOPE_ESCALATED = 0.03


def threshold_curve(predictions: Sequence[Prediction], ambiguity: float) -> List[Dict]:
    """One row per threshold, with the share of out-of-scope messages slipping through."""
    rows = []
    for row in threshold_sweep(predictions, ambiguity):
        rows.append({**row, "out_of_scope_slipped": round(1 - row["out_of_scope_caught"], 4)})
    return rows


def meets_goals(row: Dict) -> bool:
    return (row["out_of_scope_caught"] >= MIN_OOS_CAUGHT
            and row["in_scope_wrongly_escalated"] <= MAX_IN_SCOPE_ESCALATED)


def choose_threshold(curve: Sequence[Dict], configured: Optional[float] = None) -> Optional[Dict]:
    """Among thresholds within the goals: best accuracy, then fewest errors of both kinds.

    Thresholds that tie on both form a plateau. The configured threshold is
    kept when it is on the plateau (no change without a measured gain);
    otherwise the middle of the plateau, farthest from where the errors
    start to change, so a retrained model's shifted confidences matter least.
    """
    candidates = [row for row in curve if meets_goals(row)]
    if not candidates:
        return None

    def merit(row: Dict) -> tuple:
        errors = row["in_scope_wrongly_escalated"] + row["out_of_scope_slipped"]
        return round(row["intent_accuracy"], 4), -round(errors, 4)

    best = max(merit(row) for row in candidates)
    plateau = sorted((row for row in candidates if merit(row) == best), key=lambda row: row["threshold"])
    for row in plateau:
        if configured is not None and abs(row["threshold"] - configured) < 1e-9:
            return row
    return plateau[(len(plateau) - 1) // 2]


def draw_curve(curve: Sequence[Dict], chosen: Optional[float], configured: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thresholds = [row["threshold"] for row in curve]
    escalated = [100 * row["in_scope_wrongly_escalated"] for row in curve]
    slipped = [100 * row["out_of_scope_slipped"] for row in curve]

    figure, (by_threshold, trade_off) = plt.subplots(1, 2, figsize=(12, 4.5))
    by_threshold.plot(thresholds, escalated, "o-", color="#3b78c2", label="in-scope wrongly escalated")
    by_threshold.plot(thresholds, slipped, "s-", color="#e8883a", label="out-of-scope slipping through")
    by_threshold.axhline(100 * MAX_IN_SCOPE_ESCALATED, color="#3b78c2", linestyle=":", label="goal: escalated ≤ 3%")
    by_threshold.axhline(100 * (1 - MIN_OOS_CAUGHT), color="#e8883a", linestyle=":", label="goal: slipping ≤ 10%")
    by_threshold.axvline(configured, color="#888888", linestyle="--", label=f"configured {configured}")
    if chosen is not None:
        by_threshold.axvline(chosen, color="#d9534f", linestyle="-", alpha=0.6, label=f"chosen {chosen}")
    by_threshold.set_xlabel("fallback threshold")
    by_threshold.set_ylabel("% of held-out messages of that kind")
    by_threshold.set_title("Errors by fallback threshold")
    by_threshold.legend(fontsize=8)

    trade_off.plot(escalated, slipped, "o-", color="#555555")
    for threshold, x, y in zip(thresholds, escalated, slipped):
        trade_off.annotate(f"{threshold:.2f}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7,
                           color="#d9534f" if threshold == chosen else "#333333")
    trade_off.axvspan(0, 100 * MAX_IN_SCOPE_ESCALATED, ymin=0, color="#5cb85c", alpha=0.08)
    trade_off.axvline(100 * MAX_IN_SCOPE_ESCALATED, color="#3b78c2", linestyle=":")
    trade_off.axhline(100 * (1 - MIN_OOS_CAUGHT), color="#e8883a", linestyle=":")
    trade_off.set_xlabel("% in-scope wrongly escalated")
    trade_off.set_ylabel("% out-of-scope slipping through")
    trade_off.set_title("Trade-off (labels: threshold)")

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown_table(curve: Sequence[Dict], chosen: Optional[float]) -> str:
    lines = [
        "| threshold | accuracy | macro-F1 | in-scope wrongly escalated | out-of-scope slipping through | within goals |",
        "|---|---|---|---|---|---|",
    ]
    for row in curve:
        cells = [f"{row['threshold']:.2f}", f"{row['intent_accuracy']:.3f}", f"{row['macro_f1']:.3f}",
                 f"{row['in_scope_wrongly_escalated']:.3f}", f"{row['out_of_scope_slipped']:.3f}",
                 "yes" if meets_goals(row) else "no"]
        if row["threshold"] == chosen:
            cells = [f"**{cell}**" for cell in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/triage.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu_heldout.yml"))
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--out", type=Path, default=Path("reports/nlu-benchmark"))
    args = parser.parse_args(argv)

    from bot.evaluation.nlu import predict

    configured, ambiguity = configured_thresholds(args.config)
    predictions = asyncio.run(predict(args.model, load_examples(args.data)))
    curve = threshold_curve(predictions, ambiguity)
    chosen = choose_threshold(curve, configured)
    chosen_threshold = chosen["threshold"] if chosen else None
    draw_curve(curve, chosen_threshold, configured, args.out / "threshold_curve.png")
    (args.out / "threshold_curve.json").write_text(
        json.dumps({"configured": configured, "chosen": chosen_threshold, "curve": curve}, indent=2),
        encoding="utf-8")
    print(markdown_table(curve, chosen_threshold))
    print(f"\nconfigured {configured}, chosen {chosen_threshold}; wrote {args.out}/threshold_curve.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
