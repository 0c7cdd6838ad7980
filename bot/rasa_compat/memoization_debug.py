"""Patch: the memoization policy predicts without a deep copy for a debug line nobody writes.

Replaces: ``rasa.core.policies.memoization.MemoizationPolicy.predict_action_probabilities``
(which bot.policies.RecentTurnsMemoizationPolicy inherits).

Why: Rasa deep-copies the dialogue states of every prediction to log them at
debug level, also when debug logging is off and the line is dropped. With
debug lines off this predicts exactly as Rasa's (same states, same recall,
same result); with debug logging on it is Rasa's own.

Measured: a small part of the policies' share in ``make profile`` (the
copies of one prediction's states, once per action the bot takes); tested to
predict every action of whole conversations as Rasa's does
(tests/bot/test_perf_patches.py).
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.policies.policy import PolicyPrediction
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_compat.debug_lines import debug_written
from bot.rasa_compat.patch import Patch

MEMOIZATION_MODULE = "rasa.core.policies.memoization"


def predict_without_debug_copy(
    self: Any,
    tracker: DialogueStateTracker,
    domain: Domain,
    rule_only_data: Optional[dict[str, Any]] = None,
    **kwargs: Any,
) -> PolicyPrediction:
    """``MemoizationPolicy.predict_action_probabilities`` with its debug lines only when written."""
    if debug_written(MEMOIZATION_MODULE):
        prediction: PolicyPrediction = PATCH.original()(self, tracker, domain, rule_only_data, **kwargs)
        return prediction
    result = self._default_predictions(domain)
    states = self._prediction_states(tracker, domain, rule_only_data=rule_only_data)
    predicted_action_name = self.recall(states, tracker, domain, rule_only_data=rule_only_data)
    if predicted_action_name is not None:
        result = self._prediction_result(predicted_action_name, tracker, domain)
    answer: PolicyPrediction = self._prediction(result)
    return answer


PATCH = Patch(
    module=MEMOIZATION_MODULE,
    owner="MemoizationPolicy",
    attribute="predict_action_probabilities",
    replacement=predict_without_debug_copy,
    upstream_sha256="19903a81bee56ca9bc2aad8b9116d8b08c365f8761de8de1fe968bb6dcd419d3",
)
