"""The Rasa 3.6 fixes keep Rasa's results exactly, only faster."""
from __future__ import annotations

import json
import random

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    EntitiesAdded,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker as SdkTracker

from bot import rasa_fixes


def random_events(seed: int, count: int):
    generator = random.Random(seed)
    makers = [
        lambda: ActionExecuted("action_listen"),
        lambda: UserUttered("hi", {"name": generator.choice(["refund", "logistics"]), "confidence": 1.0}),
        lambda: ActionExecuted(generator.choice(["utter_refund", "utter_logistics", "refund_form"])),
        lambda: ActiveLoop(generator.choice(["refund_form", None])),
        lambda: SlotSet("order_id", str(generator.randint(1, 9))),
        lambda: UserUtteranceReverted(),
        lambda: ActionReverted(),
        lambda: SessionStarted() if generator.random() < 0.3 else Restarted(),
    ]
    weights = [20, 20, 20, 4, 6, 3, 3, 1]
    return [generator.choices(makers, weights)[0]() for _ in range(count)]


def tracker_with(events):
    return DialogueStateTracker.from_events("t", events, slots=[TextSlot("order_id", mappings=[])])


@pytest.mark.parametrize("seed", range(40))
def test_incremental_applied_events_equal_rasas_after_every_new_event(seed):
    tracker = DialogueStateTracker("t", [TextSlot("order_id", mappings=[])])
    for event in random_events(seed, 120):
        tracker.update(event)
        assert rasa_fixes.incremental_applied_events(tracker) == rasa_fixes._ORIGINAL_APPLIED_EVENTS(tracker)


def test_callers_changing_the_returned_list_do_not_change_the_next_answer():
    tracker = tracker_with(random_events(1, 50))
    first = rasa_fixes.incremental_applied_events(tracker)
    first.clear()
    assert rasa_fixes.incremental_applied_events(tracker) == rasa_fixes._ORIGINAL_APPLIED_EVENTS(tracker)


@pytest.mark.parametrize("seed", range(10))
def test_clone_has_the_state_a_replayed_copy_has(seed):
    tracker = tracker_with(random_events(seed, 150))
    clone = rasa_fixes.clone_tracker(tracker)
    replayed = tracker.travel_back_in_time(float("inf"))
    assert clone.current_state() == replayed.current_state()
    assert list(clone.events) == list(replayed.events)


def test_changing_a_clone_leaves_the_original_alone():
    tracker = tracker_with([ActionExecuted("action_listen"), SlotSet("order_id", "1")])
    clone = rasa_fixes.clone_tracker(tracker)
    clone.update(SlotSet("order_id", "2"))
    clone.update(ActiveLoop("refund_form"))
    assert tracker.get_slot("order_id") == "1"
    assert tracker.active_loop_name is None
    assert len(tracker.events) == 2


# --- Custom action calls: the current session's events, each serialised once ---

DOMAIN = Domain.from_dict({
    "intents": ["refund", "logistics"],
    "entities": ["order_id"],
    "slots": {"order_id": {"type": "text", "mappings": [{"type": "from_entity", "entity": "order_id"}]}},
    "actions": ["action_ask_which_topic"],
    "forms": {"refund_form": {"required_slots": ["order_id"]}},
    "responses": {"utter_refund": [{"text": "r"}]},
})
ACTION = RemoteAction("action_ask_which_topic", EndpointConfig("http://127.0.0.1:9/webhook"))


def session_start(events) -> int:
    starts = [index for index, event in enumerate(events) if isinstance(event, (SessionStarted, Restarted))]
    return starts[-1] if starts else 0


def rasas_call_with_session_events(tracker):
    """What Rasa sends, with the events from the latest session start or restart."""
    body = rasa_fixes.ORIGINALS["action_call_format"](ACTION, tracker, DOMAIN)
    body["tracker"]["events"] = body["tracker"]["events"][session_start(tracker.events):]
    return body


def assert_call_is_rasas_with_session_events(tracker):
    body = ACTION._action_call_format(tracker, DOMAIN)
    expected = rasas_call_with_session_events(tracker)
    assert body == expected
    # Byte for byte what json.dumps writes (what aiohttp sends by default).
    assert rasa_fixes.dumps_request_body(body) == json.dumps(expected)


def conversation_events(seed: int, count: int):
    generator = random.Random(seed)
    makers = [
        lambda: ActionExecuted("action_listen"),
        lambda: UserUttered(
            generator.choice(["我要退款", "快递到哪了", "hi"]),
            {"name": generator.choice(["refund", "logistics"]), "confidence": generator.random()},
            [{"entity": "order_id", "value": str(generator.randint(1, 9)), "start": 0, "end": 1}]
            if generator.random() < 0.3 else [],
        ),
        lambda: ActionExecuted(generator.choice(["utter_refund", "action_ask_which_topic", "refund_form"])),
        lambda: BotUttered("好的", {"buttons": [{"title": "退款", "payload": "/refund"}]}, {"utter_action": "utter_refund"}),
        lambda: ActiveLoop(generator.choice(["refund_form", None])),
        lambda: SlotSet("order_id", generator.choice([str(generator.randint(1, 9)), None])),
        lambda: SlotSet("requested_slot", generator.choice(["order_id", None])),
        lambda: UserUtteranceReverted(),
        lambda: ActionReverted(),
        lambda: SessionStarted() if generator.random() < 0.5 else Restarted(),
    ]
    weights = [20, 20, 16, 12, 4, 6, 3, 3, 3, 1]
    return [generator.choices(makers, weights)[0]() for _ in range(count)]


@pytest.mark.parametrize("seed", range(30))
def test_action_call_is_rasas_with_the_session_events_after_every_new_event(seed):
    tracker = DialogueStateTracker(f"call-{seed}", DOMAIN.slots)
    tracker.model_id, tracker.assistant_id = "model", "assistant"
    for event in conversation_events(seed, 150):
        tracker.update(event, DOMAIN)
        assert_call_is_rasas_with_session_events(tracker)


def test_only_the_current_session_is_sent_and_the_state_is_rasas():
    before = [ActionExecuted("action_listen"), UserUttered("旧的", {"name": "refund"}), ActionExecuted("utter_refund")]
    session = [ActionExecuted("action_session_start"), SessionStarted(), SlotSet("order_id", "7"),
               ActionExecuted("action_listen"), UserUttered("新的", {"name": "logistics"}), ActiveLoop("refund_form")]
    tracker = DialogueStateTracker.from_events("sessions", before + session, slots=DOMAIN.slots)

    body = ACTION._action_call_format(tracker, DOMAIN)

    assert [event["event"] for event in body["tracker"]["events"]] == [
        "session_started", "slot", "action", "user", "active_loop"]
    rasas = rasa_fixes.ORIGINALS["action_call_format"](ACTION, tracker, DOMAIN)
    assert {**body["tracker"], "events": None} == {**rasas["tracker"], "events": None}
    sdk_tracker = SdkTracker.from_dict(json.loads(rasa_fixes.dumps_request_body(body))["tracker"])
    assert sdk_tracker.get_slot("order_id") == "7"
    assert sdk_tracker.latest_message["text"] == "新的"
    assert sdk_tracker.active_loop["name"] == "refund_form"


def test_trackers_that_part_ways_each_get_their_own_events():
    base = DialogueStateTracker.from_events("parted", conversation_events(7, 60), slots=DOMAIN.slots)
    assert_call_is_rasas_with_session_events(base)
    first, second = rasa_fixes.clone_tracker(base), rasa_fixes.clone_tracker(base)
    for first_event, second_event in zip(conversation_events(8, 40), conversation_events(9, 40)):
        first.update(first_event, DOMAIN)
        assert_call_is_rasas_with_session_events(first)
        second.update(second_event, DOMAIN)
        assert_call_is_rasas_with_session_events(second)
        assert_call_is_rasas_with_session_events(base)


def test_a_tracker_reloaded_from_the_database_is_serialised_from_its_own_events():
    tracker = DialogueStateTracker.from_events("reloaded", conversation_events(3, 80), slots=DOMAIN.slots)
    assert_call_is_rasas_with_session_events(tracker)
    reloaded = DialogueStateTracker.from_dict(
        "reloaded", [event.as_dict() for event in tracker.events], DOMAIN.slots)
    reloaded.update(SlotSet("order_id", "reloaded"))
    assert_call_is_rasas_with_session_events(reloaded)


def test_a_tracker_ending_with_the_same_events_but_starting_otherwise_is_not_mistaken():
    events = conversation_events(11, 40)
    tracker = DialogueStateTracker.from_events("same-end", events, slots=DOMAIN.slots)
    assert_call_is_rasas_with_session_events(tracker)
    # As bot/policies.py builds its window: other first events, the same last ones.
    other = DialogueStateTracker.from_events(
        "same-end", [SlotSet("order_id", "0")] * 20 + events[20:], slots=DOMAIN.slots)
    assert_call_is_rasas_with_session_events(other)


def test_entities_added_to_an_earlier_message_are_sent_as_they_are_now():
    # Built as the processor builds it: its entities list is the one in parse_data.
    parse_data = {"intent": {"name": "refund"}, "entities": [{"entity": "order_id", "value": "1"}], "text": "我要退款"}
    message = UserUttered("我要退款", parse_data["intent"], parse_data["entities"], parse_data)
    tracker = DialogueStateTracker.from_events("entities", [
        ActionExecuted("action_listen"), message, ActionExecuted("utter_refund"),
        ActionExecuted("action_listen"), UserUttered("快递", {"name": "logistics"}), ActionExecuted("utter_refund"),
    ], slots=DOMAIN.slots)
    assert_call_is_rasas_with_session_events(tracker)
    # The revert makes the first message the latest again; EntitiesAdded then changes it.
    for event in [UserUtteranceReverted(), ActionExecuted("action_listen"),
                  EntitiesAdded([{"entity": "order_id", "value": "2"}]), ActionExecuted("utter_refund")]:
        tracker.update(event)
        assert_call_is_rasas_with_session_events(tracker)
    assert {"entity": "order_id", "value": "2"} in message.as_dict()["parse_data"]["entities"]


def test_a_changed_events_list_is_serialised_as_it_is():
    tracker = DialogueStateTracker.from_events("changed", conversation_events(4, 30), slots=DOMAIN.slots)
    appended = ACTION._action_call_format(tracker, DOMAIN)
    appended["tracker"]["events"].append({"event": "action", "name": "added"})
    assert rasa_fixes.dumps_request_body(appended) == json.dumps(appended)
    replaced = ACTION._action_call_format(tracker, DOMAIN)
    assert len(replaced["tracker"]["events"]) > 1
    replaced["tracker"]["events"][-1] = {"event": "restart"}
    assert rasa_fixes.dumps_request_body(replaced) == json.dumps(replaced)


@pytest.mark.parametrize("body", [
    {"text": "你好", "n": 1.5, "nested": {"a": [1, None, True]}}, [1, 2], {1: "int key"}, "text", None,
    {"tracker": {"events": [{"event": "action"}]}}, {"tracker": "not a dict"},
])
def test_other_request_bodies_are_plain_json_dumps(body):
    assert rasa_fixes.dumps_request_body(body) == json.dumps(body)


def test_the_kept_serialisations_stay_within_their_budget(monkeypatch):
    monkeypatch.setattr(rasa_fixes, "SERIALISED_EVENTS_BUDGET", 20_000)
    monkeypatch.setattr(rasa_fixes, "SERIALISED_EVENTS_CONVERSATIONS", 5)
    sessions = rasa_fixes._SerialisedSessions()
    monkeypatch.setattr(rasa_fixes, "serialised_sessions", sessions)
    trackers = [DialogueStateTracker.from_events(f"budget-{n}", conversation_events(n, 40), slots=DOMAIN.slots)
                for n in range(12)]
    for round_ in range(3):
        for tracker in trackers:
            assert_call_is_rasas_with_session_events(tracker)
            assert sessions._chars <= 20_000 and len(sessions._sessions) <= 5
            assert sessions._chars == sum(
                len(text) for entry in sessions._sessions.values() for text in entry.texts)
            tracker.update(UserUttered(f"第{round_}轮", {"name": "refund"}))
        trackers.reverse()  # so that kept entries also grow, not only get replaced


@pytest.mark.asyncio
async def test_the_action_server_receives_what_rasa_would_send():
    received = []

    async def webhook(request):
        received.append(await request.read())
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        action = RemoteAction("action_ask_which_topic", EndpointConfig(f"http://127.0.0.1:{server.port}/webhook"))
        tracker = DialogueStateTracker.from_events("http", conversation_events(5, 90), slots=DOMAIN.slots)
        for _ in range(2):  # serialised afresh, then from the kept texts
            await action.run(None, None, tracker, DOMAIN)
            assert received[-1].decode() == json.dumps(rasas_call_with_session_events(tracker))
            tracker.update(UserUttered("再来", {"name": "refund"}))
    finally:
        await server.close()
    assert len(received) == 2
