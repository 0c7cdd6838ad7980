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

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from bot.evaluation.common import standalone_arguments
from bot.evaluation.nlu import Prediction, configured_thresholds, load_examples, threshold_sweep

# The goals: at least 90% of out-of-scope messages caught, at most 3%
# of in-scope messages wrongly escalated.
MIN_OOS_CAUGHT = 0.90
MAX_IN_SCOPE_ESCALATED = 0.03


def threshold_curve(predictions: Sequence[Prediction], ambiguity: float) -> list[dict]:
    """One row per threshold, with the share of out-of-scope messages slipping through."""
    rows = []
    for row in threshold_sweep(predictions, ambiguity):
        rows.append({**row, "out_of_scope_slipped": round(1 - row["out_of_scope_caught"], 4)})
    return rows


def meets_goals(row: dict) -> bool:
    return row["out_of_scope_caught"] >= MIN_OOS_CAUGHT and row["in_scope_wrongly_escalated"] <= MAX_IN_SCOPE_ESCALATED


def total_error(row: dict) -> float:
    """Both kinds of error, each as a share of its own kind of message."""
    return round(row["in_scope_wrongly_escalated"] + row["out_of_scope_slipped"], 4)


def choose_threshold(
    curve: Sequence[dict], configured: Optional[float] = None, cv_curve: Optional[Sequence[dict]] = None
) -> Optional[dict]:
    """Within the goals on the held-out set, the most accurate threshold.

    Thresholds that tie on held-out accuracy form a plateau; on 397 messages
    they differ by a message or two, no more than two identical trainings do.
    The tie goes to more evidence when there is some: the threshold on the
    plateau with the fewest errors of both kinds on the pooled CV predictions
    (four times as many unseen messages). Without it: fewest held-out errors,
    then the configured threshold (no change without a measured gain), then
    the middle of the plateau, farthest from where the errors start to change.
    """
    candidates = [row for row in curve if meets_goals(row)]
    if not candidates:
        return None
    best_accuracy = max(round(row["intent_accuracy"], 3) for row in candidates)
    plateau = sorted(
        (row for row in candidates if round(row["intent_accuracy"], 3) == best_accuracy),
        key=lambda row: row["threshold"],
    )
    if cv_curve:
        cv_error = {round(row["threshold"], 2): total_error(row) for row in cv_curve}
        return min(plateau, key=lambda row: (cv_error.get(round(row["threshold"], 2), 1.0), row["threshold"]))
    fewest = min(total_error(row) for row in plateau)
    plateau = [row for row in plateau if total_error(row) == fewest]
    for row in plateau:
        if configured is not None and abs(row["threshold"] - configured) < 1e-9:
            return row
    return plateau[(len(plateau) - 1) // 2]


def _thresholds_by_point(
    thresholds: Sequence[float], xs: Sequence[float], ys: Sequence[float]
) -> dict[tuple, list[float]]:
    """Thresholds that land on the same point of the trade-off share one label."""
    grouped: dict[tuple, list[float]] = {}
    for threshold, x, y in zip(thresholds, xs, ys, strict=True):
        grouped.setdefault((round(x, 6), round(y, 6)), []).append(threshold)
    return grouped


def _label(group: Sequence[float]) -> str:
    return f"{group[0]:.2f}" if len(group) == 1 else f"{group[0]:.2f}–{group[-1]:.2f}"


def draw_curve(
    curve: Sequence[dict],
    chosen: Optional[float],
    configured: float,
    path: Path,
    cv_curve: Optional[Sequence[dict]] = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    thresholds = [row["threshold"] for row in curve]
    escalated = [100 * row["in_scope_wrongly_escalated"] for row in curve]
    slipped = [100 * row["out_of_scope_slipped"] for row in curve]

    figure, (by_threshold, trade_off) = plt.subplots(1, 2, figsize=(12, 4.8))
    by_threshold.plot(thresholds, escalated, "o-", color="#3b78c2", label="in-scope wrongly escalated (held-out)")
    by_threshold.plot(thresholds, slipped, "s-", color="#e8883a", label="out-of-scope slipping through (held-out)")
    if cv_curve:
        by_threshold.plot(
            [row["threshold"] for row in cv_curve],
            [100 * row["in_scope_wrongly_escalated"] for row in cv_curve],
            "--",
            color="#3b78c2",
            alpha=0.5,
            label="in-scope wrongly escalated (CV folds)",
        )
        by_threshold.plot(
            [row["threshold"] for row in cv_curve],
            [100 * row["out_of_scope_slipped"] for row in cv_curve],
            "--",
            color="#e8883a",
            alpha=0.5,
            label="out-of-scope slipping through (CV folds)",
        )
    by_threshold.axhline(100 * MAX_IN_SCOPE_ESCALATED, color="#3b78c2", linestyle=":", label="goal: escalated ≤ 3%")
    by_threshold.axhline(100 * (1 - MIN_OOS_CAUGHT), color="#e8883a", linestyle=":", label="goal: slipping ≤ 10%")
    if chosen is not None:
        by_threshold.axvline(chosen, color="#d9534f", alpha=0.6, label=f"chosen {chosen}")
    if chosen is None or abs(chosen - configured) > 1e-9:
        by_threshold.axvline(configured, color="#888888", linestyle="--", label=f"configured {configured}")
    by_threshold.set_ylim(bottom=0)
    by_threshold.set_xlabel("fallback threshold")
    by_threshold.set_ylabel("% of messages of that kind")
    by_threshold.set_title("Errors by fallback threshold")
    by_threshold.legend(fontsize=7)

    trade_off.add_patch(
        Rectangle(
            (0, 0),
            100 * MAX_IN_SCOPE_ESCALATED,
            100 * (1 - MIN_OOS_CAUGHT),
            color="#5cb85c",
            alpha=0.12,
            label="within the goals",
        )
    )
    trade_off.plot(escalated, slipped, "o-", color="#555555")
    for (x, y), group in _thresholds_by_point(thresholds, escalated, slipped).items():
        trade_off.annotate(
            _label(group),
            (x, y),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
            color="#d9534f" if chosen in group else "#333333",
        )
    trade_off.set_xlim(left=0, right=max(escalated + [100 * MAX_IN_SCOPE_ESCALATED]) * 1.1 + 0.5)
    trade_off.set_ylim(bottom=0, top=max(slipped + [100 * (1 - MIN_OOS_CAUGHT)]) * 1.1 + 0.5)
    trade_off.set_xlabel("% in-scope wrongly escalated")
    trade_off.set_ylabel("% out-of-scope slipping through")
    trade_off.set_title("Held-out trade-off (labels: thresholds)")
    trade_off.legend(fontsize=8, loc="upper right")

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown_table(curve: Sequence[dict], chosen: Optional[float]) -> str:
    lines = [
        "| threshold | accuracy | macro-F1 | in-scope wrongly escalated | out-of-scope slipping through"
        " | within goals |",
        "|---|---|---|---|---|---|",
    ]
    for row in curve:
        cells = [
            f"{row['threshold']:.2f}",
            f"{row['intent_accuracy']:.3f}",
            f"{row['macro_f1']:.3f}",
            f"{row['in_scope_wrongly_escalated']:.3f}",
            f"{row['out_of_scope_slipped']:.3f}",
            "yes" if meets_goals(row) else "no",
        ]
        if row["threshold"] == chosen:
            cells = [f"**{cell}**" for cell in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = standalone_arguments(__doc__.splitlines()[0], argv)
    from bot.evaluation.nlu import predict

    configured, ambiguity = configured_thresholds(args.config)
    predictions = asyncio.run(predict(args.model, load_examples(args.data)))
    curve = threshold_curve(predictions, ambiguity)
    chosen = choose_threshold(curve, configured)  # no CV curve here: the benchmark has one
    chosen_threshold = chosen["threshold"] if chosen else None
    draw_curve(curve, chosen_threshold, configured, args.out / "threshold_curve.png")
    (args.out / "threshold_curve.json").write_text(
        json.dumps({"configured": configured, "chosen": chosen_threshold, "curve": curve}, indent=2), encoding="utf-8"
    )
    print(markdown_table(curve, chosen_threshold))
    print(
        f"\nconfigured {configured}, chosen {chosen_threshold} on this set alone (make benchmark-nlu breaks"
        f" ties with the CV curve); wrote {args.out}/threshold_curve.png"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
