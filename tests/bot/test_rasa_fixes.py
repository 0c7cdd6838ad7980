"""The Rasa 3.6 fixes (bot/rasa_compat) keep Rasa's results exactly, only faster."""
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
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker as SdkTracker

from bot import rasa_compat
from bot.rasa_compat import (
    action_call_body,
    action_response_check,
    applied_events,
    form_tracker,
    sparse_features,
    tracker_copy,
)


@pytest.fixture(autouse=True, scope="module")
def rasa_patches():
    # As in the bot, where bot.nlg switches them on: the tests below call Rasa's own entry points.
    rasa_compat.install()


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
        assert applied_events.incremental_applied_events(tracker) == applied_events.PATCH.original()(tracker)


def test_callers_changing_the_returned_list_do_not_change_the_next_answer():
    tracker = tracker_with(random_events(1, 50))
    first = applied_events.incremental_applied_events(tracker)
    first.clear()
    assert applied_events.incremental_applied_events(tracker) == applied_events.PATCH.original()(tracker)


@pytest.mark.parametrize("seed", range(10))
def test_clone_has_the_state_a_replayed_copy_has(seed):
    tracker = tracker_with(random_events(seed, 150))
    clone = tracker_copy.clone_tracker(tracker)
    replayed = tracker.travel_back_in_time(float("inf"))
    assert clone.current_state() == replayed.current_state()
    assert list(clone.events) == list(replayed.events)


def test_changing_a_clone_leaves_the_original_alone():
    tracker = tracker_with([ActionExecuted("action_listen"), SlotSet("order_id", "1")])
    clone = tracker_copy.clone_tracker(tracker)
    clone.update(SlotSet("order_id", "2"))
    clone.update(ActiveLoop("refund_form"))
    assert tracker.get_slot("order_id") == "1"
    assert tracker.active_loop_name is None
    assert len(tracker.events) == 2


# --- Custom action calls: the recent events of the current session -----------

DOMAIN = Domain.from_dict({
    "intents": ["refund", "logistics"],
    "entities": ["order_id"],
    "slots": {"order_id": {"type": "text", "mappings": [{"type": "from_entity", "entity": "order_id"}]}},
    "actions": ["action_ask_which_topic", "validate_refund_form"],
    "forms": {"refund_form": {"required_slots": ["order_id"]}},
    "responses": {"utter_refund": [{"text": "r"}], "utter_ask_order_id": [{"text": "单号？"}]},
})
ACTION = RemoteAction("action_ask_which_topic", EndpointConfig("http://127.0.0.1:9/webhook"))
USER_MESSAGES = action_call_body.ACTION_CALL_USER_MESSAGES


def expected_events(event_dicts):
    """The session's events from the action_listen before its 10th-last user message."""
    starts = [i for i, event in enumerate(event_dicts) if event["event"] in ("session_started", "restart")]
    session = event_dicts[starts[-1]:] if starts else event_dicts
    users = [i for i, event in enumerate(session) if event["event"] == "user"]
    if len(users) < USER_MESSAGES:
        return session
    cut = users[-USER_MESSAGES]
    if cut > 0 and session[cut - 1] == {**session[cut - 1], "event": "action", "name": "action_listen"}:
        cut -= 1
    return session[cut:]


def rasas_call_with_recent_events(tracker):
    body = action_call_body.PATCH.original()(ACTION, tracker, DOMAIN)
    body["tracker"]["events"] = expected_events(body["tracker"]["events"])
    return body


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
def test_action_call_is_rasas_with_the_recent_events_after_every_new_event(seed):
    tracker = DialogueStateTracker(f"call-{seed}", DOMAIN.slots)
    tracker.model_id, tracker.assistant_id = "model", "assistant"
    for event in conversation_events(seed, 300):
        tracker.update(event, DOMAIN)
        assert ACTION._action_call_format(tracker, DOMAIN) == rasas_call_with_recent_events(tracker)


def test_only_the_current_session_is_sent_and_the_state_is_rasas():
    before = [ActionExecuted("action_listen"), UserUttered("旧的", {"name": "refund"}), ActionExecuted("utter_refund")]
    session = [ActionExecuted("action_session_start"), SessionStarted(), SlotSet("order_id", "7"),
               ActionExecuted("action_listen"), UserUttered("新的", {"name": "logistics"}), ActiveLoop("refund_form")]
    tracker = DialogueStateTracker.from_events("sessions", before + session, slots=DOMAIN.slots)

    body = ACTION._action_call_format(tracker, DOMAIN)

    assert [event["event"] for event in body["tracker"]["events"]] == [
        "session_started", "slot", "action", "user", "active_loop"]
    rasas = action_call_body.PATCH.original()(ACTION, tracker, DOMAIN)
    assert {**body["tracker"], "events": None} == {**rasas["tracker"], "events": None}


def test_a_long_session_sends_its_last_messages_and_the_action_still_sees_everything_it_reads():
    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
              UserUttered("单号 261112-405829173664021", {"name": "refund"}), SlotSet("order_id", "261112"),
              ActionExecuted("refund_form"), ActiveLoop("refund_form"), ActionExecuted("action_listen")]
    for turn in range(60):
        events += [UserUttered(f"第{turn}句", {"name": "logistics"}), ActionExecuted("utter_refund"),
                   BotUttered("好的"), ActionExecuted("action_listen")]
    tracker = DialogueStateTracker.from_events("long", events, slots=DOMAIN.slots)

    body = json.loads(json.dumps(ACTION._action_call_format(tracker, DOMAIN)))

    sent = body["tracker"]["events"]
    assert sent[0] == {**sent[0], "event": "action", "name": "action_listen"}
    assert [event["text"] for event in sent if event["event"] == "user"] == [
        f"第{n}句" for n in range(60 - USER_MESSAGES, 60)]
    sdk_tracker = SdkTracker.from_dict(body["tracker"])
    assert sdk_tracker.get_slot("order_id") == "261112"
    assert sdk_tracker.latest_message["text"] == "第59句"
    assert sdk_tracker.active_loop["name"] == "refund_form"


@pytest.mark.asyncio
async def test_the_action_server_receives_the_recent_events():
    received = []

    async def webhook(request):
        received.append(await request.json())
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        action = RemoteAction("action_ask_which_topic", EndpointConfig(f"http://127.0.0.1:{server.port}/webhook"))
        tracker = DialogueStateTracker.from_events("http", conversation_events(5, 400), slots=DOMAIN.slots)
        await action.run(None, None, tracker, DOMAIN)
    finally:
        await server.close()
    assert received == [json.loads(json.dumps(rasas_call_with_recent_events(tracker)))]


# --- Forms: the temporary tracker is a clone, not a replay --------------------

def state_without_timestamps(tracker):
    state = tracker.current_state(EventVerbosity.AFTER_RESTART)
    state["events"] = [{**event, "timestamp": None} for event in state["events"]]
    return state


@pytest.mark.parametrize("seed", range(20))
def test_the_forms_temporary_tracker_has_the_state_rasas_replay_has(seed):
    from rasa.core.actions.forms import FormAction

    form = FormAction("refund_form", None)
    tracker = DialogueStateTracker.from_events("form", conversation_events(seed, 200), slots=DOMAIN.slots)
    tracker.update(ActiveLoop("refund_form"))
    new_events = [SlotSet("order_id", "8"), BotUttered("好的"), ActiveLoop(None)]

    ours = form._temporary_tracker(tracker, list(new_events), DOMAIN)
    rasas = form_tracker.PATCH.original()(form, tracker, list(new_events), DOMAIN)

    # Only the two marker events' timestamps differ: each version made its own.
    assert state_without_timestamps(ours) == state_without_timestamps(rasas)
    assert ours.current_slot_values() == rasas.current_slot_values()
    assert ours.active_loop == rasas.active_loop
    assert tracker.active_loop_name == "refund_form" and tracker.get_slot("requested_slot") != "x"
    assert len(tracker.events) == len(ours.events) - 5


def test_only_the_form_validators_get_the_domain_with_the_shipped_endpoints():
    import yaml

    endpoints = yaml.safe_load(open("endpoints.yml", encoding="utf-8"))
    domain = Domain.load("domain.yml")
    endpoint = EndpointConfig.from_dict(endpoints["action_endpoint"])
    tracker = DialogueStateTracker.from_events("domain", conversation_events(2, 30), slots=domain.slots)

    def body_of(name):
        return RemoteAction(name, endpoint)._action_call_format(tracker, domain)

    assert "domain" not in body_of("action_handoff")
    assert body_of("validate_refund_form")["domain"]["forms"]["refund_form"]["required_slots"] == ["refund_order"]


def test_action_calls_carry_every_message_the_handoff_summary_shows():
    from bot.services.handoff import SUMMARY_MESSAGES

    assert action_call_body.ACTION_CALL_USER_MESSAGES >= SUMMARY_MESSAGES


# --- Action server answers: checked by event type, as strictly as Rasa's schema --

def _spoilt(generator: random.Random, value):
    """``value`` with one thing wrong in it somewhere (or not, now and then)."""
    choices = [None, 7, "x", [], {}, 1.5, True, {"event": "no_such_event"}]
    if isinstance(value, dict) and value and generator.random() < 0.7:
        key = generator.choice(sorted(value))
        if generator.random() < 0.25:
            return {k: v for k, v in value.items() if k != key}
        return {**value, key: _spoilt(generator, value[key])}
    if isinstance(value, list) and value and generator.random() < 0.7:
        index = generator.randrange(len(value))
        return [*value[:index], _spoilt(generator, value[index]), *value[index + 1:]]
    return generator.choice(choices)


def action_server_answers(seed: int, count: int):
    generator = random.Random(seed)
    for _ in range(count):
        events = [event.as_dict() for event in conversation_events(generator.randrange(10**6), generator.randint(0, 12))]
        answer = {"events": events, "responses": [{"text": "好的", "buttons": []}]}
        yield _spoilt(generator, answer) if generator.random() < 0.6 else answer


@pytest.mark.parametrize("seed", range(5))
def test_action_server_answers_are_accepted_and_refused_exactly_as_rasa_does(seed):
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for

    # What Rasa's jsonschema.validate(answer, schema) does, with the schema compiled once.
    schema = RemoteAction.action_response_format_spec()
    rasas = validator_for(schema)(schema)
    outcomes = set()
    for answer in action_server_answers(seed, 300):
        rasa_accepts = rasas.is_valid(answer)
        try:
            ours_accepts = action_response_check.validate_action_result(ACTION, answer)
        except ValidationError:
            ours_accepts = False
        assert ours_accepts == rasa_accepts, answer
        outcomes.add(rasa_accepts)
    assert outcomes == {True, False}  # both kinds were tried


def test_a_wrong_answer_is_refused_with_rasas_explanation():
    from jsonschema import ValidationError

    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action_response_check.validate_action_result(ACTION, {"events": [{"event": "slot", "name": "order_id"}]})


def test_every_event_type_has_its_own_check():
    from rasa.shared.utils.schemas.events import EVENT_SCHEMA

    assert len(action_response_check._event_validators()) == len(EVENT_SCHEMA["oneOf"])


# --- Combining sparse features: what scipy's hstack builds --------------------

def random_coo(generator: random.Random, rows: int, columns: int, dtype):
    import numpy as np
    from scipy.sparse import coo_matrix

    numbers = np.random.default_rng(generator.randrange(10**6))
    dense = (numbers.random((rows, columns)) < 0.05) * numbers.integers(1, 5, (rows, columns))
    return coo_matrix(dense.astype(dtype))


@pytest.mark.parametrize("seed", range(20))
def test_sparse_features_are_combined_exactly_as_scipy_hstack_does(seed):
    import numpy as np
    from scipy.sparse import hstack

    generator = random.Random(seed)
    rows = generator.choice([1, 1, 3, 9])
    left = random_coo(generator, rows, generator.randint(1, 4000), generator.choice([np.int64, np.float32, np.float64]))
    right = random_coo(generator, rows, generator.randint(1, 4000), generator.choice([np.int64, np.float32, np.float64]))
    ours, scipys = sparse_features.hstack_coo(left, right), hstack([left, right])
    assert type(ours) is type(scipys) and ours.shape == scipys.shape and ours.dtype == scipys.dtype
    for field in ("row", "col", "data"):
        assert getattr(ours, field).dtype == getattr(scipys, field).dtype
        assert np.array_equal(getattr(ours, field), getattr(scipys, field))


def test_a_messages_features_from_three_featurizers_are_combined_as_rasa_does():
    import numpy as np
    from rasa.shared.nlu.training_data.features import Features

    generator = random.Random(3)
    parts = [random_coo(generator, 4, width, np.float32) for width in (900, 2500, 1200)]

    def combined(combine):
        first = Features(parts[0], "sequence", "text", "a")
        for index, part in enumerate(parts[1:]):
            combine(first, Features(part, "sequence", "text", f"b{index}"))
        return first.features

    ours, rasas = combined(sparse_features.combine_sparse_features), combined(sparse_features.PATCH.original())
    assert (ours != rasas).nnz == 0 and ours.shape == rasas.shape and ours.dtype == rasas.dtype
