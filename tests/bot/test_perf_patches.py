"""Issue 19's Rasa patches change nothing the bot says, predicts or stores: only the work behind it.

Each test runs the same thing with the patch and with Rasa's original, on the
trained model: whole conversations (every parse, every prediction with its
policy and confidence, every event stored), DIET on every held-out message,
the messages published to RabbitMQ. The debug-line patches act only while
debug lines are not written, as in the server (Rasa configures structlog to
drop them there); here that is set explicitly.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from datetime import datetime

import numpy as np
import pytest
import structlog
import yaml
from rasa.core.brokers.pika import PikaEventBroker
from rasa.shared.core.events import ActionExecuted, UserUttered

from bench.mix import MESSAGES
from bot import rasa_compat
from bot.clock import frozen_at
from bot.policies import RecentTurnsRulePolicy
from bot.rasa_compat import (
    debug_lines,
    diet_predict,
    endpoint_session,
    memoization_debug,
    pika_publish,
    prediction_states,
)
from bot.settings import ROOT

ISSUE_19 = {"pika_publish": pika_publish, "memoization_debug": memoization_debug,
            "prediction_states": prediction_states, "diet_predict": diet_predict,
            "endpoint_session": endpoint_session}
# The case flows twice over (forms, tickets, handoff and its relay, the way back), then the
# harder turns: a form's question answered badly twice, a rating, frustration.
CONVERSATION = [*MESSAGES, *MESSAGES, "我要退款", "不知道", "随便", "你好", "我要投诉", "东西坏了", "没有订单", "4",
                "快递三天没动了", "垃圾客服 等半天了"]
DAYTIME = datetime.fromisoformat("2026-11-25T10:30:00+08:00")
TICKET = re.compile(r"T\d{8}-\d{4}")


@pytest.fixture(autouse=True)
def debug_lines_off(monkeypatch):
    for module in (pika_publish, memoization_debug):
        monkeypatch.setattr(module, "debug_written", lambda _module: False)


@contextlib.contextmanager
def rasa_originals(*names: str):
    """Rasa's own functions in place of these patches (the others stay installed)."""
    records = [rasa_compat.patch.INSTALLED[ISSUE_19[name].PATCH.name] for name in names]
    for record in records:
        setattr(record.target, record.attribute, record.original)
    try:
        yield
    finally:
        for record in records:
            setattr(record.target, record.attribute, record.replacement)


def stored(event) -> dict:
    """An event as stored, without what differs between two runs (times, message ids, ticket numbers)."""
    data = {key: value for key, value in event.as_dict().items() if key not in ("timestamp", "message_id")}
    if isinstance(data.get("parse_data"), dict):
        data["parse_data"] = {key: value for key, value in data["parse_data"].items() if key != "message_id"}
    return json.loads(TICKET.sub("T…", json.dumps(data, ensure_ascii=False, sort_keys=True)))


async def converse(agent, texts) -> list:
    sender = f"perf-{uuid.uuid4().hex[:8]}"
    with frozen_at(DAYTIME):
        answers = [await agent.handle_text(text, sender_id=sender) for text in texts]
    tracker = await agent.tracker_store.retrieve(sender)
    return [[TICKET.sub("T…", answer.get("text") or "") for answer in turn] for turn in answers], \
        [stored(event) for event in tracker.events]


def test_every_patch_of_issue_19_is_installed(agent):
    assert set(ISSUE_19) <= set(rasa_compat.PATCH_MODULES)
    assert all(module.PATCH.is_installed() for module in ISSUE_19.values())


def test_whole_conversations_are_understood_answered_and_stored_as_with_rasas_own_code(agent):
    patched_answers, patched_events = asyncio.run(converse(agent, CONVERSATION))
    with rasa_originals(*ISSUE_19):
        rasa_answers, rasa_events = asyncio.run(converse(agent, CONVERSATION))
    assert patched_answers == rasa_answers
    assert len(patched_events) == len(rasa_events)
    for patched, rasa in zip(patched_events, rasa_events):
        assert patched == rasa
    # It was a whole conversation: every message parsed and predicted after, forms and custom actions ran.
    parsed = [event for event in patched_events if event["event"] == "user"]
    assert len(parsed) == len(CONVERSATION) and all(event["parse_data"]["intent_ranking"] for event in parsed)
    actions = {event["name"] for event in patched_events if event["event"] == "action"}
    assert {"refund_form", "complaint_form", "action_handoff", "action_relay_to_agent"} <= actions
    policies = {event["policy"] for event in patched_events if event["event"] == "action" and event.get("policy")}
    assert any("RulePolicy" in policy for policy in policies)


def evaluation_messages() -> list[str]:
    """Every message of both sets `make eval` scores."""
    texts = []
    for name in ("nlu_heldout.yml", "nlu_realistic.yml"):
        data = yaml.safe_load((ROOT / "tests" / name).read_text(encoding="utf-8"))
        texts += [line[2:].strip() for block in data["nlu"] for line in block["examples"].splitlines() if line.strip()]
    return texts


def test_diet_gives_the_same_intents_and_confidences_on_every_message_make_eval_scores(agent):
    texts = evaluation_messages()
    assert len(texts) > 800

    async def parse_all():
        return [await agent.parse_message(text) for text in texts]

    patched = asyncio.run(parse_all())
    with rasa_originals("diet_predict"):
        rasa = asyncio.run(parse_all())
    for text, ours, theirs in zip(texts, patched, rasa):
        assert ours["intent"] == theirs["intent"], text
        assert ours["intent_ranking"] == theirs["intent_ranking"], text


def diet_model(agent):
    for node in agent.processor.graph_runner._instantiated_nodes.values():
        component = getattr(node, "_component", None)
        if type(component).__name__ == "DIETClassifier":
            return component.model
    raise AssertionError("no DIETClassifier in the model")


def with_original(monkeypatch, patch, original) -> None:
    """``patch.original()`` is ``original`` for this test."""
    record = rasa_compat.patch.INSTALLED[patch.name]
    monkeypatch.setitem(rasa_compat.patch.INSTALLED, patch.name, record._replace(original=original))


def test_a_batch_that_does_not_match_the_traced_signature_goes_to_rasas_own_call(agent, monkeypatch):
    asyncio.run(agent.parse_message("我要退款"))  # traced
    calls = []
    with_original(monkeypatch, diet_predict.PATCH, lambda self, batch: calls.append(batch) or "rasa")
    odd = (np.zeros((1, 1), dtype=np.float64),)
    assert diet_predict.predict_through_traced_graph(diet_model(agent), odd) == "rasa"
    assert calls == [odd]


def rule_policy(agent) -> RecentTurnsRulePolicy:
    for node in agent.processor.graph_runner._instantiated_nodes.values():
        component = getattr(node, "_component", None)
        if isinstance(component, RecentTurnsRulePolicy):
            return component
    raise AssertionError("no rule policy in the model")


def test_the_states_of_both_readings_of_a_message_are_rasas_and_each_caller_may_change_its_own(agent):
    sender = f"perf-{uuid.uuid4().hex[:8]}"
    with frozen_at(DAYTIME):
        for text in MESSAGES[:4]:
            asyncio.run(agent.handle_text(text, sender_id=sender))
    tracker = asyncio.run(agent.tracker_store.retrieve(sender))
    tracker.update(UserUttered("我要投诉", {"name": "complaint", "confidence": 1.0}, []))
    policy, domain = rule_policy(agent), agent.domain
    rule_only = policy._get_rule_only_data()
    original = prediction_states.PATCH.original()
    for use_text in (True, False, True):
        ours = policy._prediction_states(tracker, domain, use_text, rule_only)
        assert ours == original(policy, tracker, domain, use_text, rule_only)
        ours[-1].clear()  # what the caller does with its states is its own business
    tracker.update(ActionExecuted("utter_ask_complaint"))  # the tracker moved on: built again
    assert policy._prediction_states(tracker, domain, False, rule_only) == original(
        policy, tracker, domain, False, rule_only)


class FakeExchange:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.published = fail, []

    async def publish(self, message, routing_key):
        if self.fail:
            raise ConnectionError("connection lost")
        self.published.append((message.body, message.headers, message.app_id, message.delivery_mode, routing_key))


def publish_all(publish, events, fail=False):
    async def run():
        broker = PikaEventBroker("localhost", "guest", "guest", queues=["q"])
        broker._exchange = FakeExchange(fail)
        for event in events:
            await publish(broker, event, {"sender": "x"})
        return broker._exchange.published, list(broker._unpublished_events)

    return asyncio.run(run())


EVENTS = [
    {"event": "user", "text": "我要退款", "parse_data": {"intent": {"name": "refund", "confidence": 0.99},
                                                      "entities": [], "intent_ranking": []}},
    {"event": "action", "name": "refund_form", "policy": "RulePolicy", "confidence": 1.0},
    {"event": "slot", "name": "order_id", "value": "261112-405829173664021"},
]


def test_every_event_is_published_as_rasa_publishes_it():
    assert publish_all(pika_publish.publish_without_debug_copy, EVENTS) == publish_all(
        pika_publish.PATCH.original(), EVENTS)
    published, _ = publish_all(pika_publish.publish_without_debug_copy, EVENTS)
    assert [json.loads(body) for body, *_ in published] == EVENTS  # one message per event, Rasa's format


def test_an_event_that_could_not_be_published_is_kept_for_the_reconnect_and_logged(caplog):
    ours = publish_all(pika_publish.publish_without_debug_copy, EVENTS, fail=True)
    assert ours == publish_all(pika_publish.PATCH.original(), EVENTS, fail=True)
    assert ours == ([], EVENTS)


def test_with_debug_lines_written_the_broker_and_memoization_are_rasas_own(monkeypatch):
    calls = []
    monkeypatch.setattr(pika_publish, "debug_written", lambda _module: True)

    async def rasas(self, event, headers=None):
        calls.append(event)

    with_original(monkeypatch, pika_publish.PATCH, rasas)
    publish_all(pika_publish.publish_without_debug_copy, EVENTS)
    assert calls == EVENTS


def test_debug_lines_are_written_when_structlog_is_unconfigured_or_the_module_logs_debug():
    module = "rasa.core.brokers.pika"
    level = logging.getLogger(module).level
    try:
        structlog.reset_defaults()
        assert debug_lines.debug_written(module)  # structlog's defaults write everything
        structlog.configure(processors=[structlog.stdlib.filter_by_level],
                            logger_factory=structlog.stdlib.LoggerFactory())
        logging.getLogger(module).setLevel(logging.INFO)
        assert not debug_lines.debug_written(module)
        logging.getLogger(module).setLevel(logging.DEBUG)
        assert debug_lines.debug_written(module)
    finally:
        structlog.reset_defaults()
        logging.getLogger(module).setLevel(level)


@contextlib.asynccontextmanager
async def counting_server(status: int = 200):
    """A local HTTP endpoint answering JSON; the client ports it saw (one per connection)."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    ports = []

    async def answer(request):
        ports.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"events": [], "responses": []}, status=status)

    app = web.Application()
    app.router.add_post("/webhook", answer)
    async with TestServer(app, host="127.0.0.1") as server:
        yield f"http://127.0.0.1:{server.port}", ports


def calls(count: int, status: int = 200, pause: float = 0.0):
    from rasa.utils.endpoints import EndpointConfig

    async def run():
        async with counting_server(status) as (url, ports):
            endpoint = EndpointConfig(url)
            answers = []
            for _ in range(count):
                answers.append(await endpoint.request(json={"next_action": "action_x"}, method="post",
                                                      subpath="webhook"))
                await asyncio.sleep(pause)
            return answers, ports

    return asyncio.run(run())


def test_calls_to_the_action_server_reuse_one_connection_where_rasa_opened_one_each():
    answers, ports = calls(5)
    assert answers == [{"events": [], "responses": []}] * 5 and len(set(ports)) == 1
    with rasa_originals("endpoint_session"):
        rasa_answers, rasa_ports = calls(5)
    assert rasa_answers == answers and len(set(rasa_ports)) == 5


def test_a_call_after_the_idle_time_opens_a_new_connection_and_is_answered(monkeypatch):
    monkeypatch.setattr(endpoint_session, "KEEPALIVE_SECONDS", 0.1)
    answers, ports = calls(3, pause=0.4)
    assert answers == [{"events": [], "responses": []}] * 3 and len(set(ports)) == 3


def test_an_error_answer_is_raised_as_rasa_raises_it():
    from rasa.utils.endpoints import ClientResponseError

    for variant in (contextlib.nullcontext(), rasa_originals("endpoint_session")):
        with variant, pytest.raises(ClientResponseError) as raised:
            calls(1, status=500)
        assert raised.value.status == 500


def test_an_endpoint_used_on_a_new_event_loop_gets_a_new_session_and_the_old_one_is_closed():
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    endpoint = EndpointConfig("http://127.0.0.1:1", headers={"X-Shop": "triage"})

    async def session():
        async with endpoint.session() as session:
            return session

    first, second = asyncio.run(session()), asyncio.run(session())
    assert first is not second and first.closed and not second.closed
    # Rasa's settings: the endpoint's headers, Rasa's timeout.
    assert second.headers["X-Shop"] == "triage" and second.timeout.total == DEFAULT_REQUEST_TIMEOUT
