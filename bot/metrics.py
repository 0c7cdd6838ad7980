"""The bot's Prometheus metrics: every metric defined once, here, and the ``/metrics`` answer.

The Rasa servers serve them at ``/metrics`` (bot/channels/operations.py), the
action server too (bot/action_server.py); each process counts its own, so
Prometheus scrapes every instance and sums. Who counts what:

- the channels' guard (bot/channels/guard.py): messages received, rate-limited
  messages, reply latency, by channel;
- the Rasa server, after each turn (bot/rasa_compat/turn_metrics.py):
  conversations, NLU fallbacks, escalations by reason, escalated conversations;
  the custom-action calls that failed or timed out (bot/rasa_compat/action_timeout.py);
  tracker-store errors (bot/stores/tracker_store.py);
- the action server: handoffs and tickets (bot/services), priority complaints
  (an escalation), and actions that raised (bot/action_server.py).

Label values are small fixed sets (channels, reasons, intents, ticket kinds,
action names from the domain), never a sender id or a text: each label value is
one more time series in Prometheus.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Optional, ParamSpec, TypeVar

from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

# The *_created series double what Prometheus stores and nobody here reads them.
disable_created_metrics()

# --- label values -------------------------------------------------------------

CHANNELS = ("rest", "socketio", "wechat")
OTHER = "other"  # any other channel or action: one series for all of them

ASKED_FOR_HUMAN = "asked_for_human"  # utter_escalate: the user asked for a person
FRUSTRATION = "frustration"  # utter_escalate chosen by FrustrationPolicy: an angry shopper sent to a person
NOT_UNDERSTOOD_TWICE = "not_understood_twice"  # utter_default: unclear again after the topic question
NONE_OF_THE_TOPICS = "none_of_the_topics"  # utter_default after 「都不是」 to the topic question
LOW_POLICY_CONFIDENCE = "low_policy_confidence"  # action_default_fallback: no rule or story fits
PRIORITY_COMPLAINT = "priority_complaint"  # a complaint ticket with the 24-hour follow-up (action server)
# The report's reasons (bot/report/conversations.py), with frustration told apart.
ESCALATION_REASONS = (
    ASKED_FOR_HUMAN,
    FRUSTRATION,
    NOT_UNDERSTOOD_TWICE,
    NONE_OF_THE_TOPICS,
    LOW_POLICY_CONFIDENCE,
    PRIORITY_COMPLAINT,
)
# The Rasa server's escalating actions (see escalation_reason).
ESCALATION_ACTIONS = frozenset({"utter_escalate", "utter_default", "action_default_fallback"})
FALLBACK_INTENTS = ("nlu_fallback", "out_of_scope")
SERVICE_HOURS = ("open", "closed")
TRACKER_STORE_OPERATIONS = ("retrieve", "save")

# Our p95 is about 0.1 s (docs/benchmarks.md), WeChat gives up after 5 s and a
# custom action after ACTION_TIMEOUT_SECONDS (4): finer around the usual, up to 10 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

# --- the channels (Rasa server) ------------------------------------------------

MESSAGES_RECEIVED = Counter(
    "triage_messages_received_total",
    "User messages that reached an input channel, rate-limited and empty ones included.",
    ["channel"],
)
MESSAGES_RATE_LIMITED = Counter(
    "triage_messages_rate_limited_total",
    "User messages not processed because their sender was over the rate limit (RATE_LIMIT_MESSAGES).",
    ["channel"],
)
REPLY_LATENCY = Histogram(
    "triage_reply_latency_seconds",
    "Time from a message reaching the channel to the bot's answer being done, for messages the bot processed.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)

# --- the dialogue (Rasa server) ----------------------------------------------------

CONVERSATIONS = Counter(
    "triage_conversations_total",
    "Conversations started: the first user message of a session.",
    ["channel"],
)
NLU_FALLBACKS = Counter(
    "triage_nlu_fallbacks_total",
    "User messages the NLU could not place: nlu_fallback (low confidence) or out_of_scope; "
    "messages relayed to an agent are left out.",
    ["intent"],
)
ESCALATIONS = Counter(
    "triage_escalations_total",
    "Escalations to a person, by reason (the Rasa server counts all but priority_complaint, the action server that).",
    ["reason"],
)
ESCALATED_CONVERSATIONS = Counter(
    "triage_escalated_conversations_total",
    "Conversations at their first escalation on the Rasa server (any reason but priority_complaint).",
)
ACTION_ERRORS = Counter(
    "triage_action_errors_total",
    "Custom action calls the Rasa server gave up on: the action server failed or could not be reached; "
    "the user was told how to reach a person.",
    ["action"],
)
ACTION_TIMEOUTS = Counter(
    "triage_action_timeouts_total",
    "Custom action calls the Rasa server gave up on after ACTION_TIMEOUT_SECONDS; "
    "the user was told how to reach a person.",
    ["action"],
)
TRACKER_STORE_ERRORS = Counter(
    "triage_tracker_store_errors_total",
    "Tracker store operations that failed (the database raised); Rasa then keeps the conversation in memory.",
    ["operation"],
)

# --- the action server ----------------------------------------------------------------

HANDOFFS = Counter(
    "triage_handoffs_total",
    "Handoff tickets opened for a person: service_hours open (a person takes over) or closed (a message left).",
    ["service_hours"],
)
TICKETS_OPENED = Counter(
    "triage_tickets_opened_total",
    "Tickets opened, by kind (complaint, dispute, logistics, handoff, callback, message).",
    ["kind"],
)
ACTION_SERVER_ERRORS = Counter(
    "triage_action_server_errors_total",
    "Custom actions that raised on the action server (answered with a 500).",
    ["action"],
)


def start_rasa_server_series() -> None:
    """The Rasa server's labelled series, at 0 from its start: rate() and increase() then see the first event."""
    for channel in (*CHANNELS, OTHER):
        for metric in (MESSAGES_RECEIVED, MESSAGES_RATE_LIMITED, REPLY_LATENCY, CONVERSATIONS):
            metric.labels(channel)
    for reason in ESCALATION_REASONS:
        if reason != PRIORITY_COMPLAINT:
            ESCALATIONS.labels(reason)
    for intent in FALLBACK_INTENTS:
        NLU_FALLBACKS.labels(intent)
    for operation in TRACKER_STORE_OPERATIONS:
        TRACKER_STORE_ERRORS.labels(operation)


def start_action_server_series() -> None:
    """The action server's labelled series, at 0 from its start."""
    ESCALATIONS.labels(PRIORITY_COMPLAINT)
    for hours in SERVICE_HOURS:
        HANDOFFS.labels(hours)


def channel_label(input_channel: Optional[str]) -> str:
    """The channel as a label value: one of CHANNELS, else OTHER."""
    return input_channel if input_channel in CHANNELS else OTHER


def escalation_reason(action: Optional[str], policy: Optional[str], intent: Optional[str]) -> Optional[str]:
    """Why ``action`` (chosen by ``policy`` after a message of ``intent``) escalates; None if it does not."""
    if action == "utter_escalate":
        return FRUSTRATION if (policy or "").endswith("FrustrationPolicy") else ASKED_FOR_HUMAN
    if action == "utter_default":
        return NONE_OF_THE_TOPICS if intent == "deny" else NOT_UNDERSTOOD_TWICE
    if action == "action_default_fallback":
        return LOW_POLICY_CONFIDENCE
    return None


# --- counting ----------------------------------------------------------------------------

P = ParamSpec("P")
T = TypeVar("T")


def counts_errors(
    counter: Counter, operation: str
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """Decorates a coroutine function: each exception it raises adds 1 to ``counter{operation}``, then goes on."""

    def decorate(function: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(function)
        async def counted(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await function(*args, **kwargs)
            except Exception:
                counter.labels(operation).inc()
                raise

        return counted

    return decorate


# --- /metrics ----------------------------------------------------------------------------------


def metrics_response(request: Request) -> HTTPResponse:
    """This process's metrics in the format the scraper asks for (Prometheus text by default); never a 500."""
    try:
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return response.raw(encode(REGISTRY), content_type=content_type)
    except Exception:
        logger.exception("Metrics could not be written.")
        return response.json({"error": "metrics unavailable"}, status=503)
