"""Dialogue policies that read only the recent part of a conversation.

Rasa's RulePolicy and MemoizationPolicy rebuild the dialogue states of the
whole conversation on every turn, although they only compare the last few.
Turn 200 then costs several times turn 1. These subclasses hand them a
tracker of the last ``recent_actions`` actions instead (of the applied events,
so also while a form runs), started from the slot values and active loop the
conversation had at that point, so what they compare is the same and the cost
no longer grows with the conversation. tests/bot/test_policies.py checks the
window's states against the full history on random conversations with forms,
rule-only turns, follow-ups and reverted turns.

HandoffPolicy keeps the bot quiet while a person has the conversation.
FrustrationPolicy acknowledges an angry shopper first and takes them to a
person sooner; RatingReplyPolicy reads a bare digit after the rating question
as the rating.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Optional

from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import (
    ACTION_EXTRACT_SLOTS,
    ACTION_LISTEN_NAME,
    ACTION_SESSION_START_NAME,
    USER_INTENT_BACK,
    USER_INTENT_RESTART,
    USER_INTENT_SESSION_START,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    Event,
    FollowupAction,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import frustration
from bot.services import rating

DEFAULT_RECENT_ACTIONS = 12
# Memoization skips turns that only rules know (Rasa hides them from stories),
# so its last states may lie further back; it looks that far, up to this many
# actions. Older story turns than that no longer steer it.
DEFAULT_MAX_RECENT_ACTIONS = 120
# /restart, /back and /session_start keep Rasa's own handling during a handoff.
_RASA_CONTROL_INTENTS = {USER_INTENT_RESTART, USER_INTENT_BACK, USER_INTENT_SESSION_START}


def recent_tracker(
    tracker: DialogueStateTracker,
    domain: Domain,
    recent_actions: int,
    story_actions: int = 0,
    max_actions: int = DEFAULT_MAX_RECENT_ACTIONS,
) -> DialogueStateTracker:
    """A tracker holding the last ``recent_actions`` actions of ``tracker``.

    The window is cut from the *applied* events, which Rasa's state building
    reads: reverted turns are already gone and a form's turns already folded
    together, so the window's own applied events are the window itself and
    its states are the last states of the whole conversation. What policies
    read besides states (latest message and action, loop flags) is the live
    tracker's. With ``story_actions``, the window also reaches back far enough
    for that many story states (see DEFAULT_MAX_RECENT_ACTIONS). Returns
    ``tracker`` itself when it is short.
    """
    applied = tracker.applied_events()
    start = _window_start(applied, recent_actions, story_actions, max_actions, set(domain.form_names))
    if start is None:
        return tracker
    before, window = applied[:start], applied[start:]
    prefix = _slots_at(before, window, tracker, domain) + _loop_at(before)
    recent = DialogueStateTracker.from_events(tracker.sender_id, prefix + window, slots=domain.slots, domain=domain)
    return _with_current_view(recent, tracker)


def _with_current_view(recent: DialogueStateTracker, tracker: DialogueStateTracker) -> DialogueStateTracker:
    """The live tracker's latest message, action and loop flags on ``recent``.

    Policies read these from the tracker as logged, while states come from the
    applied events, where a form's turns are folded away (its latest message too).
    """
    recent.latest_message = tracker.latest_message
    recent.latest_action = dict(tracker.latest_action)
    recent.latest_bot_utterance = tracker.latest_bot_utterance
    recent.followup_action = tracker.followup_action
    recent.active_loop = dataclasses.replace(tracker.active_loop) if tracker.active_loop else None
    return recent


def _window_start(
    applied: list[Event], recent_actions: int, story_actions: int, max_actions: int, loops: set[str]
) -> Optional[int]:
    """Index of the action_listen that opens the window, None if no cut is needed.

    With ``story_actions``, the window also reaches back to a story turn right
    after a user message that has ``story_actions`` story turns after it:
    from there on, the states stories see are built from the window alone
    (Rasa carries the previous story action and user message over hidden turns).
    """
    seen = story = 0
    anchored = story_actions == 0
    later: Optional[ActionExecuted] = None
    followup = False
    for index in range(len(applied) - 1, 0, -1):
        event = applied[index]
        if isinstance(event, FollowupAction):
            followup = True
        if not isinstance(event, ActionExecuted):
            continue
        if later is not None and _is_story_turn(later, event, followup, loops):
            anchored = anchored or (story >= story_actions and event.action_name == ACTION_LISTEN_NAME)
            story += 1
        later, followup, seen = event, False, seen + 1
        enough = seen >= recent_actions and (anchored or seen >= max_actions)
        if enough and event.action_name == ACTION_LISTEN_NAME:
            return index
    return None


def _is_story_turn(action: ActionExecuted, previous: ActionExecuted, followup: bool, loops: set[str]) -> bool:
    """Whether Rasa surely keeps ``action``'s turn in the states stories see.

    It drops turns only rules know; after a loop's own action or a follow-up,
    the turn inherits that from the turn before, so those are not counted.
    """
    return not action.hide_rule_turn and not followup and previous.action_name not in loops


def _loop_at(before: list[Event]) -> list[Event]:
    """The event activating the loop that is active where the window starts."""
    for event in reversed(before):
        if isinstance(event, ActiveLoop):
            return [ActiveLoop(event.name)] if event.name else []
    return []


def _slots_at(
    before: list[Event],
    window: list[Event],
    tracker: DialogueStateTracker,
    domain: Domain,
) -> list[Event]:
    """SlotSet events recreating the slot values where the window starts.

    Only slots that shape the dialogue states need their value from before
    the window (found by reading back); for the others, any start value gives
    the same states and the window's own SlotSets give the same final value.
    """
    resets_in_window = any(isinstance(event, AllSlotsReset) for event in window)
    changed_in_window = {event.key for event in window if isinstance(event, SlotSet)}
    prefix: list[Event] = []
    for name, slot in tracker.slots.items():
        initial = _initial_value(domain, name)
        changed = resets_in_window or name in changed_in_window
        value = _last_value_before(before, name, initial) if changed and slot.influence_conversation else slot.value
        if value != initial:
            prefix.append(SlotSet(name, value))
    return prefix


def _initial_value(domain: Domain, slot_name: str) -> Any:
    for slot in domain.slots:
        if slot.name == slot_name:
            return slot.initial_value
    return None


def _last_value_before(events: list[Event], slot_name: str, initial: Any) -> Any:
    for event in reversed(events):
        if isinstance(event, SlotSet) and event.key == slot_name:
            return event.value
        if isinstance(event, AllSlotsReset):
            return initial
    return initial


if TYPE_CHECKING:  # for mypy: the mixin only ever comes before a Policy

    class _PolicyBase(Policy): ...

else:
    _PolicyBase = object


class _RecentTurnsMixin(_PolicyBase):
    """Predicts from the recent window of the conversation."""

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        recent = _recent_tracker_once(tracker, domain, **self._window())
        return super().predict_action_probabilities(recent, domain, rule_only_data, **kwargs)

    def _window(self) -> dict[str, int]:
        # Story-trained policies skip rule-only turns: keep enough story turns.
        stories_only = self.supported_data() == SupportedData.ML_DATA
        max_history = self.config.get("max_history") or 0
        return {
            "recent_actions": self.config["recent_actions"],
            "story_actions": max_history + 1 if stories_only else 0,
            "max_actions": self.config["max_recent_actions"],
        }


_WINDOW_DEFAULTS = {"recent_actions": DEFAULT_RECENT_ACTIONS, "max_recent_actions": DEFAULT_MAX_RECENT_ACTIONS}

# The policies see the same tracker in one prediction: cut it once per window.
_last_cuts: dict[Any, Any] = {}


def _recent_tracker_once(tracker: DialogueStateTracker, domain: Domain, **window: int) -> DialogueStateTracker:
    # Holding the tracker and domain themselves (not their ids) keeps the
    # check exact; a Domain's own hash and equality fingerprint all of it.
    same = _last_cuts.get("tracker") is tracker and _last_cuts.get("domain") is domain
    if not same or _last_cuts.get("length") != len(tracker.events):
        _last_cuts.clear()
        _last_cuts.update(tracker=tracker, domain=domain, length=len(tracker.events))
    key = tuple(sorted(window.items()))
    if key not in _last_cuts:
        _last_cuts[key] = recent_tracker(tracker, domain, **window)
    return _last_cuts[key]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RecentTurnsRulePolicy(_RecentTurnsMixin, RulePolicy):
    """RulePolicy over the last ``recent_actions`` actions."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**RulePolicy.get_default_config(), **_WINDOW_DEFAULTS}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RecentTurnsMemoizationPolicy(_RecentTurnsMixin, MemoizationPolicy):
    """MemoizationPolicy over the last ``recent_actions`` actions."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**MemoizationPolicy.get_default_config(), **_WINDOW_DEFAULTS}


class _OneActionPolicy(Policy):
    """A policy with nothing to learn that is sure of one next action, or abstains."""

    def train(self, training_trackers: list[Any], domain: Domain, **kwargs: Any) -> Resource:
        # Nothing to learn; the empty resource lets Rasa load the policy.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self._next_action(tracker)
        if action is not None and action in domain.action_names_or_texts:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)

    def _next_action(self, tracker: DialogueStateTracker) -> Optional[str]:
        raise NotImplementedError


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class HandoffPolicy(_OneActionPolicy):
    """While a handoff is open, relay the user's messages to it instead of answering.

    The bot is paused as long as the ``paused_slot`` holds a ticket number: every
    message goes to ``relay_action`` (it lands in the ticket for the agent) until
    the user asks for the bot back (``resume_intent``) or an agent clears the slot.
    Above the rule policy, so neither rules nor a form reply in between.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "priority": 7,
            "paused_slot": "handoff_ticket",
            "relay_action": "action_relay_to_agent",
            "resume_intent": "resume_bot",
            "resume_action": "action_resume_bot",
        }

    def _next_action(self, tracker: DialogueStateTracker) -> Optional[str]:
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


def _this_turn(tracker: DialogueStateTracker) -> Optional[list[str]]:
    """The actions run since the latest user message; None before any."""
    done: list[str] = []
    for event in reversed(tracker.applied_events()):
        if isinstance(event, UserUttered):
            return list(reversed(done))
        if isinstance(event, ActionExecuted) and event.action_name not in (ACTION_EXTRACT_SLOTS, None):
            done.append(event.action_name)
    return None


def _session_user_messages(tracker: DialogueStateTracker) -> list[UserUttered]:
    messages: list[UserUttered] = []
    for event in reversed(tracker.applied_events()):
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME:
            break
        if isinstance(event, UserUttered):
            messages.append(event)
    return messages


class _PlanPolicy(_OneActionPolicy):
    """Predicts the steps of a short plan for the current turn, then stands aside."""

    def _next_action(self, tracker: DialogueStateTracker) -> Optional[str]:
        done = _this_turn(tracker)
        if done is None:
            return None
        plan = self._plan(tracker, done)
        if plan[: len(done)] == done and len(plan) > len(done):
            return plan[len(done)]
        return None

    def _plan(self, tracker: DialogueStateTracker, done: list[str]) -> list[str]:
        raise NotImplementedError


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class FrustrationPolicy(_PlanPolicy):
    """An angry shopper hears an acknowledgement first, then gets a person or the case.

    The NLU marks frustrated messages (bot/components/frustration_detector.py).
    With a subject (a parcel, a refund, an order, a form's question) the case
    goes on after the acknowledgement; without one, or at the second
    frustrated message of a session, the shopper goes to a person at once:
    the escalation response, then the handoff ticket. bot.frustration.route
    decides; the acknowledgement action words it the same way.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Above the rules (6), the handoff relay (7) and the rating reply
            # (8); it stands aside while a person has the conversation.
            "priority": 9,
            "paused_slot": "handoff_ticket",
            "acknowledge_action": "action_acknowledge_frustration",
            "person_actions": ["utter_escalate", "action_handoff", ACTION_LISTEN_NAME],
            # A form takes the turn over from its first step; an answer ends it.
            "case_actions": {
                "refund": ["refund_form"],
                "logistics": ["logistics_form"],
                "complaint": ["complaint_form"],
                "fraud_check": ["fraud_form"],
                "ticket_status": ["action_ticket_status", ACTION_LISTEN_NAME],
                "rate": ["action_store_rating", ACTION_LISTEN_NAME],
            },
        }

    def _plan(self, tracker: DialogueStateTracker, done: list[str]) -> list[str]:
        message = tracker.latest_message
        if message is None or not frustration.is_frustrated(message.parse_data):
            return []
        intent = message.intent.get("name")
        if intent in _RASA_CONTROL_INTENTS or (tracker.get_slot(self.config["paused_slot"]) and not done):
            return []
        form = _active_loop_before_latest_message(tracker)
        frustrated = sum(frustration.is_frustrated(m.parse_data) for m in _session_user_messages(tracker))
        plan = [self.config["acknowledge_action"]]
        if frustration.route(intent, message.parse_data, frustrated, form is not None) == frustration.PERSON:
            return plan + self.config["person_actions"]
        return plan + (self.config["case_actions"].get(intent) or [form])


def _active_loop_before_latest_message(tracker: DialogueStateTracker) -> Optional[str]:
    # The form the message answered; later in the turn a step may start or end one.
    active: Optional[str] = None
    for event in tracker.applied_events():
        if isinstance(event, ActiveLoop):
            active = event.name
        if isinstance(event, UserUttered) and event is tracker.latest_message:
            return active
    return active


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RatingReplyPolicy(_PlanPolicy):
    """A bare 「4」 or 「五星」 right after the rating question is the rating.

    Out of context the NLU cannot tell a bare digit from the start of an
    order number; right after the question it can only be the score. A
    longer number typed then (an order number) is left to the other policies.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "priority": 8,
            "rating_action": "action_store_rating",
            # The rating question's buttons send this intent.
            "rating_payload": "/rate",
        }

    def _plan(self, tracker: DialogueStateTracker, done: list[str]) -> list[str]:
        message = tracker.latest_message
        if message is None or not rating.is_bare_score(message.text or ""):
            return []
        if not self._rating_was_asked(tracker):
            return []
        return [self.config["rating_action"], ACTION_LISTEN_NAME]

    def _rating_was_asked(self, tracker: DialogueStateTracker) -> bool:
        seen_user = False
        for event in reversed(tracker.applied_events()):
            if isinstance(event, UserUttered):
                if seen_user:
                    return False
                seen_user = True
            elif isinstance(event, BotUttered) and seen_user:
                buttons = (event.data or {}).get("buttons") or []
                return any(str(b.get("payload", "")).startswith(self.config["rating_payload"]) for b in buttons)
        return False
