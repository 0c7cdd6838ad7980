"""bot/evaluation/threshold_curve.py on a small synthetic set of predictions."""
from __future__ import annotations

from bot.evaluation import threshold_curve
from bot.evaluation.nlu import THRESHOLDS, Prediction


def _prediction(gold: str, top: str, confidence: float) -> Prediction:
    return Prediction(f"{gold} {confidence}", gold, ((top, confidence), ("other", 0.0)))


# Ten in-scope messages, nine right with confidences 0.95 down to 0.35 and one
# wrong; ten out-of-scope ones, classified in scope with confidences 0.25 to 0.7.
IN_SCOPE = [_prediction("refund", "refund", c) for c in (0.95, 0.95, 0.9, 0.9, 0.85, 0.8, 0.75, 0.6, 0.35)]
IN_SCOPE.append(_prediction("refund", "logistics", 0.9))
OUT_OF_SCOPE = [_prediction("out_of_scope", "refund", c) for c in (0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.4, 0.7)]
PREDICTIONS = IN_SCOPE + OUT_OF_SCOPE


def row_at(curve, threshold):
    return next(row for row in curve if row["threshold"] == threshold)


def test_curve_has_a_row_per_threshold_from_0_3_to_0_9():
    curve = threshold_curve.threshold_curve(PREDICTIONS, ambiguity=0.1)
    assert [row["threshold"] for row in curve] == THRESHOLDS
    assert THRESHOLDS[0] == 0.3 and THRESHOLDS[-1] == 0.9 and len(THRESHOLDS) == 13


def test_curve_counts_escalated_in_scope_and_slipping_out_of_scope():
    curve = threshold_curve.threshold_curve(PREDICTIONS, ambiguity=0.1)
    low = row_at(curve, 0.3)
    assert low["in_scope_wrongly_escalated"] == 0.0
    assert low["out_of_scope_slipped"] == 0.2  # 0.4 and 0.7 get through
    middle = row_at(curve, 0.5)
    assert middle["in_scope_wrongly_escalated"] == 0.1  # the 0.35 one
    assert middle["out_of_scope_slipped"] == 0.1  # the 0.7 one
    high = row_at(curve, 0.9)
    assert high["out_of_scope_slipped"] == 0.0
    assert high["in_scope_wrongly_escalated"] == 0.5  # the five under 0.9


def test_curve_trades_one_error_for_the_other():
    curve = threshold_curve.threshold_curve(PREDICTIONS, ambiguity=0.1)
    escalated = [row["in_scope_wrongly_escalated"] for row in curve]
    slipped = [row["out_of_scope_slipped"] for row in curve]
    assert escalated == sorted(escalated)
    assert slipped == sorted(slipped, reverse=True)


def _curve(*rows):
    curve = []
    for threshold, accuracy, escalated, caught in rows:
        curve.append({"threshold": threshold, "intent_accuracy": accuracy, "in_scope_wrongly_escalated": escalated,
                      "out_of_scope_caught": caught, "out_of_scope_slipped": round(1 - caught, 4)})
    return curve


def test_choose_threshold_stays_within_the_goals_and_prefers_accuracy_then_fewer_errors():
    curve = _curve(
        (0.3, 0.97, 0.01, 0.85),  # misses the catch goal
        (0.4, 0.96, 0.02, 0.93),
        (0.5, 0.96, 0.025, 0.96),  # as accurate as 0.4, fewer errors in all
        (0.6, 0.95, 0.04, 0.98),  # misses the escalation goal
    )
    assert threshold_curve.choose_threshold(curve)["threshold"] == 0.5
    assert threshold_curve.choose_threshold(curve[:1]) is None


PLATEAU = _curve(
    (0.3, 0.95, 0.01, 0.91),
    (0.35, 0.96, 0.01, 0.95),
    (0.4, 0.96, 0.01, 0.95),
    (0.45, 0.96, 0.01, 0.95),
    (0.5, 0.96, 0.01, 0.95),
    (0.55, 0.96, 0.01, 0.95),
    (0.6, 0.95, 0.03, 0.95),
)


def test_choose_threshold_keeps_the_configured_one_on_the_plateau():
    assert threshold_curve.choose_threshold(PLATEAU, configured=0.5)["threshold"] == 0.5


def test_choose_threshold_takes_the_middle_of_the_plateau_otherwise():
    assert threshold_curve.choose_threshold(PLATEAU)["threshold"] == 0.45
    assert threshold_curve.choose_threshold(PLATEAU, configured=0.6)["threshold"] == 0.45


def test_choose_threshold_breaks_a_tie_with_the_cv_curve():
    cv_curve = _curve(
        (0.35, 0.88, 0.04, 0.85),
        (0.4, 0.88, 0.05, 0.89),
        (0.45, 0.88, 0.06, 0.92),  # fewest errors of both kinds on the CV folds
        (0.5, 0.87, 0.07, 0.92),
        (0.55, 0.86, 0.08, 0.93),
    )
    assert threshold_curve.choose_threshold(PLATEAU, configured=0.5, cv_curve=cv_curve)["threshold"] == 0.45


def test_choose_threshold_never_leaves_the_held_out_plateau_for_the_cv_curve():
    cv_curve = _curve((0.3, 0.9, 0.0, 1.0), (0.6, 0.9, 0.0, 1.0), (0.5, 0.8, 0.1, 0.8))
    assert threshold_curve.choose_threshold(PLATEAU, cv_curve=cv_curve)["threshold"] == 0.5


def test_chart_and_table(tmp_path):
    curve = threshold_curve.threshold_curve(PREDICTIONS, ambiguity=0.1)
    threshold_curve.draw_curve(curve, 0.5, 0.5, tmp_path / "curve.png", cv_curve=curve)
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = threshold_curve.markdown_table(curve, 0.5).splitlines()
    assert len(table) == 2 + len(THRESHOLDS)
    assert any(line.startswith("| **0.50** |") for line in table)


def test_thresholds_on_the_same_point_share_one_label():
    groups = threshold_curve._thresholds_by_point([0.3, 0.35, 0.4, 0.45], [1, 1, 1, 2], [5, 5, 5, 3])
    assert sorted(threshold_curve._label(group) for group in groups.values()) == ["0.30–0.40", "0.45"]
