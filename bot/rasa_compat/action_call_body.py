"""Patch: a custom action call carries the recent events, not the whole conversation.

Replaces: ``rasa.core.actions.action.RemoteAction._action_call_format``, which
builds the body Rasa posts to the action server.

Why: on every custom action call Rasa sends the tracker with *all* its events
(``current_state(EventVerbosity.ALL)``), serialised afresh, and the action
server parses them all, so each call costs more as the conversation grows.
The call now carries the events of the current session from the
action_listen before the user's last ``ACTION_CALL_USER_MESSAGES`` messages
on (the whole session when it is shorter), and every other field of the
tracker state exactly as Rasa makes it (slots, latest_message, active_loop,
...). The actions read slots and the latest message from those fields and
only look back a few messages in the events (the handoff summary shows 6, a
case's story), so they answer the same.

Measured: at turn 200 a call carried about 1,000 events, 570 kB of JSON;
now its size stops growing after turn 10. Tested against Rasa's body and
against the actions' answers (tests/bot/test_rasa_fixes.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, Restarted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot.rasa_compat.patch import Patch

ACTION_CALL_USER_MESSAGES = 10
_SESSION_STARTS = (SessionStarted, Restarted)


def recent_call_events(events: Iterable[Event], user_messages: int = ACTION_CALL_USER_MESSAGES) -> list[Event]:
    """The events an action call carries: the current session, its last ``user_messages`` messages at most."""
    events = list(events)
    seen = 0
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, _SESSION_STARTS):
            return events[index:]
        if isinstance(event, UserUttered):
            seen += 1
            if seen == user_messages:
                return events[_listen_before(events, index) :]
    return events


def _listen_before(events: list[Event], index: int) -> int:
    previous = index - 1
    is_listen = (
        previous >= 0
        and isinstance(events[previous], ActionExecuted)
        and (events[previous].action_name == ACTION_LISTEN_NAME)
    )
    return previous if is_listen else index


def action_call_with_recent_events(self: Any, tracker: DialogueStateTracker, domain: Any) -> dict[str, Any]:
    """``RemoteAction._action_call_format`` sending only :func:`recent_call_events`.

    The same body as Rasa 3.6 builds, except ``tracker.events``.
    """
    import rasa

    tracker_state = tracker.current_state(EventVerbosity.NONE)
    tracker_state["events"] = [event.as_dict() for event in recent_call_events(tracker.events)]
    result = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker_state,
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
        result["domain"] = domain.as_dict()
    return result


PATCH = Patch(
    module="rasa.core.actions.action",
    owner="RemoteAction",
    attribute="_action_call_format",
    replacement=action_call_with_recent_events,
    upstream_sha256="428795b944f22edba142d278ec47a30098975b01463ba337ec447dade52a0492",
)
