"""Patch: when the action server is down or slow, the user still gets an answer.

Replaces: ``rasa.core.actions.action.RemoteAction.run``, the call of a custom
action on the action server (the original still makes the call).

Why: Rasa 3.6 waits up to five minutes for a custom action and, when the action
server cannot be reached, logs an error and says nothing to the user. Here
every custom action call is bounded by ``ACTION_TIMEOUT_SECONDS`` (default 4)
and a failure is answered with the way to a person (hotline, app path) from
bot/knowledge/replies.yml; a form in progress is ended so it does not ask a
question it cannot check. Nothing is cached: the next message tries the
action server again, so the bot recovers by itself when it is back. Each
failure is counted (``triage_action_timeouts_total`` or
``triage_action_errors_total``, by action; bot/metrics.py).

Measured: Rasa would wait up to 5 minutes, then say nothing; with a hanging
action server and a 1.5 s timeout the user has the way to a person in under
6 s, the same when it cannot be reached, and the running bot answers as usual
again once the action server is back (tests/test_action_server_down.py).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import aiohttp
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import ActiveLoop, BotUttered, Event, SlotSet
from rasa.shared.exceptions import RasaException

from bot import metrics
from bot.knowledge.texts import reply_text
from bot.rasa_compat.patch import Patch
from bot.settings import env_number

logger = logging.getLogger(__name__)

DEFAULT_ACTION_TIMEOUT_SECONDS = 4.0
UNAVAILABLE_REPLY = "action_unavailable"
# (sender, message id) of the turns already told, so one turn says it once.
_TOLD: collections.deque[tuple[str, Any]] = collections.deque(maxlen=10_000)
_TOLD_SET: set[tuple[str, Any]] = set()


def action_timeout() -> float:
    return env_number("ACTION_TIMEOUT_SECONDS", DEFAULT_ACTION_TIMEOUT_SECONDS)


async def run_or_point_to_a_person(
    self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any
) -> list[Event]:
    try:
        return await asyncio.wait_for(PATCH.original()(self, output_channel, nlg, tracker, domain), action_timeout())
    except ActionExecutionRejection:
        raise
    except (RasaException, aiohttp.ClientError, asyncio.TimeoutError) as error:
        failures = metrics.ACTION_TIMEOUTS if isinstance(error, asyncio.TimeoutError) else metrics.ACTION_ERRORS
        failures.labels(self.name()).inc()
        logger.error(
            "custom action %s failed (%s); told the user how to reach a person",
            self.name(),
            error or type(error).__name__,
        )
        return unavailable_events(tracker)


def unavailable_events(tracker: Any) -> list[Event]:
    """The way to a person (once per user message), and the end of any form."""
    events: list[Event] = []
    if _first_time_this_turn(tracker):
        events.append(BotUttered(reply_text(UNAVAILABLE_REPLY), metadata={"utter_action": UNAVAILABLE_REPLY}))
    if tracker.active_loop_name:
        events += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
    return events


def _first_time_this_turn(tracker: Any) -> bool:
    key = (tracker.sender_id, (tracker.latest_message.message_id if tracker.latest_message else None))
    if key in _TOLD_SET:
        return False
    if len(_TOLD) == _TOLD.maxlen:
        _TOLD_SET.discard(_TOLD[0])
    _TOLD.append(key)
    _TOLD_SET.add(key)
    return True


PATCH = Patch(
    module="rasa.core.actions.action",
    owner="RemoteAction",
    attribute="run",
    replacement=run_or_point_to_a_person,
    upstream_sha256="ccabf6f1160d527a157fad5bd285ce69e8221b1bcad23f8a61499b4360a1c17e",
)
