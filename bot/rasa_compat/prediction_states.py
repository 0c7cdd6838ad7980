"""Patch: a policy builds a tracker's dialogue states once for both readings of the last message.

Replaces: ``rasa.core.policies.policy.Policy._prediction_states``.

Why: right after a user message the rule policy asks for the conversation's
states twice, once reading the message by its text and once by its intent
(``RulePolicy._predict``), and Rasa builds them from the tracker's events
both times; the two differ only in the last message's user state. This keeps
the last tracker's states per policy, before the featurizer chooses between
text and intent, and gives each caller its own copy of them with the choice
made by the featurizer's own ``_choose_last_user_input``. The cache holds the
tracker, the domain and the rule-only data themselves and the number of
events, so a tracker that changed is built again. Featurizers other than the
max-history one (the rule and memoization policies') get Rasa's own.

Measured: the rule policy's states were about 1.2% of a loaded Rasa
server's samples, half of them the second build (``make profile``); tested to
give every state and prediction Rasa gives on whole conversations
(tests/bot/test_perf_patches.py).
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies.policy import SupportedData
from rasa.shared.core.constants import USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_compat.patch import Patch

# Policy -> (tracker, number of events, domain, rule-only data, states before the choice of text or intent).
_LAST_STATES: dict[int, tuple[Any, int, Any, Any, list[State]]] = {}


def prediction_states_once(
    self: Any,
    tracker: DialogueStateTracker,
    domain: Domain,
    use_text_for_last_user_input: bool = False,
    rule_only_data: Optional[dict[str, Any]] = None,
) -> list[State]:
    """``Policy._prediction_states``, reusing the states built for the same tracker a moment ago."""
    featurizer = self.featurizer
    if type(featurizer) is not MaxHistoryTrackerFeaturizer:
        states: list[State] = PATCH.original()(self, tracker, domain, use_text_for_last_user_input, rule_only_data)
        return states
    built = _built_states(self, featurizer, tracker, domain, rule_only_data)
    chosen = [_own_user_state(state) for state in built]
    featurizer._choose_last_user_input([chosen], use_text_for_last_user_input)
    return chosen


def _built_states(
    policy: Any,
    featurizer: MaxHistoryTrackerFeaturizer,
    tracker: DialogueStateTracker,
    domain: Domain,
    rule_only_data: Optional[dict[str, Any]],
) -> list[State]:
    """What ``MaxHistoryTrackerFeaturizer.prediction_states`` builds before choosing text or intent."""
    last = _LAST_STATES.get(id(policy))
    if (
        last is not None
        and last[0] is tracker
        and last[1] == len(tracker.events)
        and last[2] is domain
        and last[3] == rule_only_data
    ):
        return last[4]
    stories_only = policy.supported_data() == SupportedData.ML_DATA
    states = featurizer._create_states(
        tracker, domain, ignore_rule_only_turns=stories_only, rule_only_data=rule_only_data
    )
    if stories_only:
        states = featurizer._remove_action_unlikely_intent_from_states(states)
    states = featurizer.slice_state_history(states, featurizer.max_history)
    _LAST_STATES[id(policy)] = (tracker, len(tracker.events), domain, rule_only_data, states)
    return states


def _own_user_state(state: State) -> State:
    """A copy of ``state`` whose user part the featurizer may change (it deletes keys there only)."""
    return {**state, USER: dict(state[USER])} if USER in state else dict(state)


PATCH = Patch(
    module="rasa.core.policies.policy",
    owner="Policy",
    attribute="_prediction_states",
    replacement=prediction_states_once,
    upstream_sha256="ed9b82bed2f26ad7a0de61709e02339983912bece614191089c3adba60cf1452",
)
