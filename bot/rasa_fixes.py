"""Targeted fixes to Rasa Open Source 3.6 internals, applied once on import.

Each fix states what it corrects; remove it when Rasa fixes the cause.
"""
from __future__ import annotations

import copy
import functools
import itertools
import json
import operator
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Set, Text

from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    EntitiesAdded,
    Event,
    Restarted,
    SessionStarted,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

_ORIGINAL_APPLIED_EVENTS = DialogueStateTracker.applied_events

# Rasa's own versions of what apply() replaces (for the tests), set by apply().
ORIGINALS: Dict[Text, Any] = {}


def clone_tracker(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """An independent copy of ``tracker`` built without replaying its events.

    Events are never changed once logged, so the copy shares them; everything
    the tracker mutates (event list, slots, active loop, latest action) is copied.
    """
    clone = copy.copy(tracker)
    clone.events = tracker._create_events(list(tracker.events))
    clone.slots = {name: copy.copy(slot) for name, slot in tracker.slots.items()}
    clone.active_loop = copy.deepcopy(tracker.active_loop)
    clone.latest_action = copy.copy(tracker.latest_action)
    return clone


def incremental_applied_events(tracker: DialogueStateTracker) -> List[Event]:
    """Rasa's ``applied_events``, continued from the last call on this tracker.

    Rasa recomputes it from the first event several times per message. The
    computation is a left fold over the events, except that the set of loop
    names is taken from all events: when new events bring a new loop name,
    or the tracker's events are not the ones folded before, start over.
    """
    events = tracker.events
    count = len(events)
    cached = tracker.__dict__.get("_applied_events_cache")
    if cached is not None:
        done, last_event, loop_names, applied = cached
        if 0 < done <= count and events[done - 1] is last_event:
            new_events = list(itertools.islice(events, done, count))
            if _loop_names(new_events) <= loop_names:
                applied = list(applied)
                _fold_applied(tracker, new_events, loop_names, applied)
                return _remember_applied(tracker, events, count, loop_names, applied)
    loop_names = _loop_names(events)
    applied = []
    _fold_applied(tracker, events, loop_names, applied)
    return _remember_applied(tracker, events, count, loop_names, applied)


def _loop_names(events: Iterable[Event]) -> Set[Text]:
    return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}


def _fold_applied(
    tracker: DialogueStateTracker, events: Iterable[Event], loop_names: Set[Text], applied: List[Event]
) -> None:
    # The same steps as DialogueStateTracker.applied_events in Rasa 3.6.
    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)


def _remember_applied(
    tracker: DialogueStateTracker, events: Any, count: int, loop_names: Set[Text], applied: List[Event]
) -> List[Event]:
    if count:
        tracker.__dict__["_applied_events_cache"] = (count, events[count - 1], loop_names, applied)
    # Callers may change the list they get; the cached one stays private.
    return list(applied)


def _validate_action_result_with_cached_validator(self: Any, result: Dict[Text, Any]) -> bool:
    from jsonschema import ValidationError

    try:
        _action_response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your "
            "response from the Action endpoint is valid."
        )
        raise error


@functools.lru_cache(maxsize=None)
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


# --- Custom action calls ---------------------------------------------------
#
# On every custom action call Rasa sends the tracker with *all* its events
# (``current_state(EventVerbosity.ALL)``) and serialises every event again:
# at turn 200 of a conversation, about 1,000 events and 570 kB of JSON,
# 8.5 ms of ``as_dict`` and ``json.dumps`` per call in the Rasa server.
#
# Fixed here: the call carries the events from the tracker's latest session
# start or restart (SessionStarted or Restarted, included), which is the
# session the tracker store returns, and every other field of the tracker
# state exactly as Rasa makes it (slots, latest_message, active_loop, ...).
# Each event is serialised once: the texts of the current session of recent
# conversations are kept (events are not changed once logged; EntitiesAdded,
# the one event that changes an earlier one, turns the reuse off for that
# session), and the request body is put together from them, byte for byte
# what ``json.dumps`` writes. The whole session is still sent, so the action
# server still parses it: about 7 ms more of its CPU per call at 1,000 events.

_SESSION_STARTS = (SessionStarted, Restarted)
# Upper bounds of the serialised events kept: characters (~bytes) and conversations.
SERIALISED_EVENTS_BUDGET = 64 * 2**20
SERIALISED_EVENTS_CONVERSATIONS = 2000


def last_session_start(events: List[Event]) -> Optional[int]:
    """Index of the last SessionStarted or Restarted event, None if there is none."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], _SESSION_STARTS):
            return index
    return None


class ActionCallEvents(list):
    """The events of one action call (``Event.as_dict()`` each) and their JSON texts."""

    def __init__(self, dicts: List[Dict[Text, Any]], texts: Optional[List[Text]] = None) -> None:
        super().__init__(dicts)
        self._dicts = tuple(dicts)
        self._texts = None if texts is None else tuple(texts)

    def as_json(self) -> Optional[Text]:
        """``json.dumps(self)`` from the texts; None if unknown or the list was changed."""
        if self._texts is None or len(self) != len(self._dicts):
            return None
        if not all(map(operator.is_, self, self._dicts)):
            return None
        return "[" + ", ".join(self._texts) + "]"


@dataclass
class _SerialisedSession:
    count: int  # tracker events covered
    last_event: Event  # tracker.events[count - 1]
    start: int  # index of the first event sent
    first_event: Event  # tracker.events[start]
    dicts: List[Dict[Text, Any]]
    texts: List[Text]
    chars: int


class _SerialisedSessions:
    """Serialised events of the current session of recent conversations (LRU)."""

    def __init__(self) -> None:
        self._sessions: "OrderedDict[Text, _SerialisedSession]" = OrderedDict()
        self._chars = 0

    def events_for(self, tracker: DialogueStateTracker) -> ActionCallEvents:
        """The tracker's events from its latest session start or restart on."""
        events, sender_id = tracker.events, tracker.sender_id
        count = len(events)
        entry = self._continued_entry(sender_id, events, count)
        offset = entry.count if entry else 0
        new = list(itertools.islice(events, offset, count))
        restart = last_session_start(new)
        if entry is None or restart is not None:
            self.forget(sender_id)
            entry, new, start = None, new[restart or 0:], offset + (restart or 0)
        else:
            start = entry.start
        if any(isinstance(event, EntitiesAdded) for event in new):
            # EntitiesAdded adds to an earlier UserUttered: serialise afresh, keep nothing.
            self.forget(sender_id)
            return ActionCallEvents([event.as_dict() for event in itertools.islice(events, start, count)])
        if not new:
            return ActionCallEvents(entry.dicts, entry.texts) if entry else ActionCallEvents([], [])
        if entry is None:
            entry = _SerialisedSession(0, new[0], start, new[0], [], [], 0)
        dicts = [event.as_dict() for event in new]
        texts = [json.dumps(event_dict) for event_dict in dicts]
        entry.dicts.extend(dicts)
        entry.texts.extend(texts)
        entry.count, entry.last_event = count, events[count - 1]
        self._store(sender_id, entry, sum(map(len, texts)))
        return ActionCallEvents(entry.dicts, entry.texts)

    def forget(self, sender_id: Text) -> None:
        entry = self._sessions.pop(sender_id, None)
        if entry is not None:
            self._chars -= entry.chars

    def _continued_entry(self, sender_id: Text, events: Any, count: int) -> Optional[_SerialisedSession]:
        entry = self._sessions.get(sender_id)
        if entry is None:
            return None
        # The same event objects at both ends: the tracker continues this one.
        if entry.count <= count and events[entry.count - 1] is entry.last_event and (
            events[entry.start] is entry.first_event
        ):
            return entry
        self.forget(sender_id)
        return None

    def _store(self, sender_id: Text, entry: _SerialisedSession, added_chars: int) -> None:
        entry.chars += added_chars
        self._chars += added_chars
        self._sessions[sender_id] = entry
        self._sessions.move_to_end(sender_id)
        while self._sessions and (
            self._chars > SERIALISED_EVENTS_BUDGET or len(self._sessions) > SERIALISED_EVENTS_CONVERSATIONS
        ):
            _, evicted = self._sessions.popitem(last=False)
            self._chars -= evicted.chars


serialised_sessions = _SerialisedSessions()


def action_call_with_session_events(self: Any, tracker: DialogueStateTracker, domain: Any) -> Dict[Text, Any]:
    """``RemoteAction._action_call_format`` sending the events of the current session.

    The same body as Rasa 3.6 builds, except ``tracker.events``: the events
    from the latest SessionStarted or Restarted on (all if there is none).
    """
    import rasa

    tracker_state = tracker.current_state(EventVerbosity.NONE)
    tracker_state["events"] = serialised_sessions.events_for(tracker)
    result = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker_state,
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(
        self.name()
    ):
        result["domain"] = domain.as_dict()
    return result


def dumps_request_body(body: Any) -> Text:
    """``json.dumps(body)``; an action call's events come from their serialised texts."""
    events_json = _serialised_events_of(body)
    if events_json is None:
        return json.dumps(body)
    tracker_json = _dumps_object_with(body["tracker"], "events", events_json)
    return _dumps_object_with(body, "tracker", tracker_json)


def _serialised_events_of(body: Any) -> Optional[Text]:
    if not _is_str_keyed_dict(body) or not _is_str_keyed_dict(body.get("tracker")):
        return None
    events = body["tracker"].get("events")
    return events.as_json() if isinstance(events, ActionCallEvents) else None


def _is_str_keyed_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(key, str) for key in value)


def _dumps_object_with(mapping: Dict[Text, Any], raw_key: Text, raw_json: Text) -> Text:
    # What json.dumps writes for a dict with str keys and default separators.
    return "{" + ", ".join(
        f"{json.dumps(key)}: {raw_json if key == raw_key else json.dumps(value)}"
        for key, value in mapping.items()
    ) + "}"


def endpoint_session_with_fast_json(self: Any) -> Any:
    """``EndpointConfig.session`` of Rasa 3.6 with :func:`dumps_request_body` as JSON encoder."""
    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

    auth = None
    if self.basic_auth:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
    return aiohttp.ClientSession(
        headers=self.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        json_serialize=dumps_request_body,
    )


def apply() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    if ORIGINALS:
        return
    ORIGINALS.update(
        action_call_format=RemoteAction._action_call_format,
        endpoint_session=EndpointConfig.session,
    )

    # Rasa checks the action-response JSON schema itself on every custom
    # action call (``jsonschema.validate``), about 25 ms per call on this
    # machine; check it once and reuse the validator.
    RemoteAction._validate_action_result = _validate_action_result_with_cached_validator
    # The processor copies the tracker before every action, and Rasa's copy
    # replays every event of the conversation: turn 200 pays for 200 turns.
    DialogueStateTracker.copy = clone_tracker
    # applied_events() runs several times per message over the whole history.
    DialogueStateTracker.applied_events = incremental_applied_events
    # Every custom action call serialised the whole conversation again and
    # sent events of earlier sessions too (see "Custom action calls" above).
    RemoteAction._action_call_format = action_call_with_session_events
    EndpointConfig.session = endpoint_session_with_fast_json


apply()
