"""Dialogue policies that read only the recent part of a conversation.

Rasa's RulePolicy and MemoizationPolicy rebuild the dialogue states of the
whole conversation on every turn, although they only compare the last few.
Turn 200 then costs several times turn 1. These subclasses hand them a
tracker of the last ``recent_actions`` actions instead, started from the
slot values and active loop the conversation had at that point, so what
they compare is the same and the cost no longer grows with the conversation.
tests/bot/test_policies.py checks the window's states against the full history.

HandoffPolicy keeps the bot quiet while a person has the conversation.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import (
    ACTION_LISTEN_NAME,
    USER_INTENT_BACK,
    USER_INTENT_RESTART,
    USER_INTENT_SESSION_START,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker

DEFAULT_RECENT_ACTIONS = 12
_RESETS = (Restarted, SessionStarted, AllSlotsReset)
_REVERTS = (UserUtteranceReverted, ActionReverted)
# /restart, /back and /session_start keep Rasa's own handling during a handoff.
_RASA_CONTROL_INTENTS = {USER_INTENT_RESTART, USER_INTENT_BACK, USER_INTENT_SESSION_START}


def recent_tracker(
    tracker: DialogueStateTracker, domain: Domain, recent_actions: int
) -> DialogueStateTracker:
    """A tracker holding the last ``recent_actions`` actions of ``tracker``.

    Returns ``tracker`` itself when it is short, when reverts in the window
    could reach past its start, or when a loop (form) is involved: Rasa folds
    a loop's turns together back to its previous run, which may lie before
    the window, so only the whole history is exact then.
    """
    events = list(tracker.events)
    start = _window_start(events, recent_actions)
    if start is None:
        return tracker
    window = events[start:]
    if _reverts_may_leave_window(window) or _involves_loop(tracker, window):
        return tracker
    # State at the window's start comes from the applied events (reverted
    # slot changes do not count), which Rasa keeps up to date anyway.
    applied = tracker.applied_events()
    position = _position_of(applied, events[start])
    if position is None:
        return tracker
    prefix = _slots_at(applied[:position], window, tracker, domain)
    return DialogueStateTracker.from_events(
        tracker.sender_id, prefix + window, slots=domain.slots, domain=domain
    )


def _involves_loop(tracker: DialogueStateTracker, window: List[Event]) -> bool:
    return tracker.active_loop_name is not None or any(isinstance(e, ActiveLoop) for e in window)


def _position_of(events: List[Event], wanted: Event) -> Optional[int]:
    for index in range(len(events) - 1, -1, -1):
        if events[index] is wanted:
            return index
    return None


def _window_start(events: List[Event], recent_actions: int) -> Optional[int]:
    """Index of the action_listen that opens the window, None if no cut is needed."""
    seen = 0
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, ActionExecuted):
            seen += 1
            if seen >= recent_actions and event.action_name == ACTION_LISTEN_NAME:
                return index if index > 0 else None
    return None


def _reverts_may_leave_window(window: List[Event]) -> bool:
    reverts = sum(isinstance(event, _REVERTS) for event in window)
    listens = sum(
        isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME
        for event in window
    )
    return reverts > 0 and reverts >= listens - 1


def _slots_at(
    before: List[Event],
    window: List[Event],
    tracker: DialogueStateTracker,
    domain: Domain,
) -> List[Event]:
    """SlotSet events recreating the slot values where the window starts."""
    resets_in_window = any(isinstance(event, _RESETS) for event in window)
    changed_in_window = {event.key for event in window if isinstance(event, SlotSet)}
    prefix: List[Event] = []
    for name, slot in tracker.slots.items():
        if resets_in_window or name in changed_in_window:
            value = _last_value_before(before, name, _initial_value(domain, name))
        else:
            value = slot.value
        if value != _initial_value(domain, name):
            prefix.append(SlotSet(name, value))
    return prefix


def _initial_value(domain: Domain, slot_name: Text) -> Any:
    for slot in domain.slots:
        if slot.name == slot_name:
            return slot.initial_value
    return None


def _last_value_before(events: List[Event], slot_name: Text, initial: Any) -> Any:
    for event in reversed(events):
        if isinstance(event, SlotSet) and event.key == slot_name:
            return event.value
        if isinstance(event, _RESETS):
            return initial
    return initial


class _RecentTurnsMixin:
    """Predicts from the recent window of the conversation."""

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        recent = _recent_tracker_once(tracker, domain, self.config["recent_actions"])
        return super().predict_action_probabilities(recent, domain, rule_only_data, **kwargs)


# Both policies see the same tracker in one prediction: cut it once.
_last_cut: Dict[Text, Any] = {}


def _recent_tracker_once(
    tracker: DialogueStateTracker, domain: Domain, recent_actions: int
) -> DialogueStateTracker:
    # Holding the tracker itself (not its id) keeps the check exact.
    key = (len(tracker.events), recent_actions, domain)
    if _last_cut.get("tracker") is not tracker or _last_cut.get("key") != key:
        _last_cut.update(tracker=tracker, key=key, recent=recent_tracker(tracker, domain, recent_actions))
    return _last_cut["recent"]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class RecentTurnsRulePolicy(_RecentTurnsMixin, RulePolicy):
    """RulePolicy over the last ``recent_actions`` actions."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**RulePolicy.get_default_config(), "recent_actions": DEFAULT_RECENT_ACTIONS}


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class RecentTurnsMemoizationPolicy(_RecentTurnsMixin, MemoizationPolicy):
    """MemoizationPolicy over the last ``recent_actions`` actions."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**MemoizationPolicy.get_default_config(), "recent_actions": DEFAULT_RECENT_ACTIONS}


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class HandoffPolicy(Policy):
    """While a handoff is open, relay the user's messages to it instead of answering.

    The bot is paused as long as the ``paused_slot`` holds a ticket number: every
    message goes to ``relay_action`` (it lands in the ticket for the agent) until
    the user asks for the bot back (``resume_intent``) or an agent clears the slot.
    Above the rule policy, so neither rules nor a form reply in between.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "priority": 7,
            "paused_slot": "handoff_ticket",
            "relay_action": "action_relay_to_agent",
            "resume_intent": "resume_bot",
            "resume_action": "action_resume_bot",
        }

    def train(self, training_trackers: List[Any], domain: Domain, **kwargs: Any) -> Resource:
        # Nothing to learn; the empty resource lets Rasa load the policy.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        action = self._handoff_action(tracker)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)

    def _handoff_action(self, tracker: DialogueStateTracker) -> Optional[Text]:
        latest_action = tracker.latest_action_name
        # After relaying or handing back, wait for the user (the slot is
        # already clear after a hand-back).
        if latest_action in (self.config["relay_action"], self.config["resume_action"]):
            return ACTION_LISTEN_NAME
        if latest_action != ACTION_LISTEN_NAME or not tracker.get_slot(self.config["paused_slot"]):
            return None
        intent = tracker.latest_message.intent.get("name") if tracker.latest_message else None
        if intent in _RASA_CONTROL_INTENTS:
            return None
        if intent == self.config["resume_intent"]:
            return self.config["resume_action"]
        return self.config["relay_action"]
