"""Patch: after each turn, count what it did for the metrics (bot/metrics.py).

Replaces: ``rasa.core.processor.MessageProcessor._run_prediction_loop``, the
loop that runs the bot's actions after a message (the original still runs it).

Why: Rasa has no hook after a turn, and only the turn's events say what
happened: a new conversation (the first user message of a session), a message
the NLU could not place (``nlu_fallback``, ``out_of_scope``), an escalation and
its reason (which action, chosen by which policy, after which intent: the
report's reasons, bot/report/conversations.py, with FrustrationPolicy's told
apart), and whether it is the conversation's first. The loop runs once per
message (and per reminder or external trigger, which count no message);
the events it added are the turn's actions, the user message is just before
them. Counting never costs the user an answer: an error in it is logged.
Messages relayed to an agent during a handoff are not NLU fallbacks, as in
the report.

Measured: about 11 µs for an ordinary turn of a 200-turn session (the
events since the previous user message); a turn that escalates also reads
its session back, 0.25 ms for those 200 turns (800 events); a turn itself
takes about 0.1 s (p95, docs/benchmarks.md). tests/bot/test_turn_metrics.py checks every count on
written-out turns, tests/bot/test_metrics.py on the running bot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, Optional

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, UserUttered

from bot import metrics
from bot.rasa_compat.patch import Patch

logger = logging.getLogger(__name__)

RELAY_ACTION = "action_relay_to_agent"
# How far back the user message of a turn may lie before its actions
# (slot events, action_extract_slots): a turn with no message is found sooner.
_MESSAGE_LOOKBACK = 50


async def run_prediction_loop_and_count(self: Any, output_channel: Any, tracker: Any) -> None:
    before = len(tracker.events)
    await PATCH.original()(self, output_channel, tracker)
    try:
        count_turn(list(tracker.events), before)
    except Exception:
        logger.exception("Turn metrics not counted for this turn.")


def count_turn(events: Sequence[Event], start: int) -> None:
    """Count the turn whose actions are ``events[start:]``."""
    at = user_message_index(events, start)
    actions = [event for event in events[start:] if isinstance(event, ActionExecuted)]
    if at is not None:
        message = events[at]
        assert isinstance(message, UserUttered)
        if is_first_of_session(events, at):
            metrics.CONVERSATIONS.labels(metrics.channel_label(message.input_channel)).inc()
        intent = message.intent_name
        if intent in metrics.FALLBACK_INTENTS and not any(action.action_name == RELAY_ACTION for action in actions):
            metrics.NLU_FALLBACKS.labels(intent).inc()
    _count_escalations(events, start, actions, _latest_intent(events, start))


def _count_escalations(events: Sequence[Event], start: int, actions: list[ActionExecuted], intent: Any) -> None:
    escalated_before: Optional[bool] = None  # read back only when the turn escalates
    for action in actions:
        reason = metrics.escalation_reason(action.action_name, action.policy, intent)
        if reason is None:
            continue
        metrics.ESCALATIONS.labels(reason).inc()
        if escalated_before is None:
            escalated_before = _session_escalated_before(events, start)
        if not escalated_before:
            metrics.ESCALATED_CONVERSATIONS.inc()
            escalated_before = True


def user_message_index(events: Sequence[Event], start: int) -> Optional[int]:
    """Where the user message the turn starting at ``start`` answers is; None for a turn no message started."""
    for index in range(start - 1, max(0, start - _MESSAGE_LOOKBACK) - 1, -1):
        event = events[index]
        if isinstance(event, UserUttered):
            return index
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME:
            return None
    return None


def is_first_of_session(events: Sequence[Event], index: int) -> bool:
    """Whether the user message at ``index`` is the first of its session."""
    for event in _backwards(events, index):
        if isinstance(event, SessionStarted):
            return True
        if isinstance(event, UserUttered):
            return False
    return True


def _session_escalated_before(events: Sequence[Event], start: int) -> bool:
    # The whole session back: type names, as isinstance on Rasa's events (an
    # ABC) costs five times more.
    for event in _backwards(events, start):
        if event.type_name == SessionStarted.type_name:
            return False
        if event.type_name == ActionExecuted.type_name and event.action_name in metrics.ESCALATION_ACTIONS:
            return True
    return False


def _latest_intent(events: Sequence[Event], start: int) -> Optional[str]:
    for event in _backwards(events, start):
        if isinstance(event, UserUttered):
            return event.intent_name
    return None


def _backwards(events: Sequence[Event], end: int) -> Iterator[Event]:
    """``events[:end]``, from the last one back."""
    return reversed(events[:end])


PATCH = Patch(
    module="rasa.core.processor",
    owner="MessageProcessor",
    attribute="_run_prediction_loop",
    replacement=run_prediction_loop_and_count,
    upstream_sha256="cb30a0cbb690c571dbd33e404a16577745ad745798986b0fd314bd055893b4cf",
)
