"""bot/channels/operations.py and bot/health.py: /metrics and /health/* on the Rasa server, without a bot.

The running bot's endpoints are checked in tests/bot/test_metrics.py; here
each store state a probe can meet is set up on its own: loaded or not, an
SQLite or PostgreSQL tracker store that answers, refuses or hangs, a Redis
lock store that answers or not.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request
import uuid
from types import SimpleNamespace

import pytest
import redis
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from rasa.core.channels.channel import register
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from sanic import Sanic

from bot import health
from bot.channels.operations import OperationsInput, readiness_checks
from bot.metrics import metrics_response
from bot.stores.lock_store import AtomicRedisLockStore
from bot.stores.tracker_store import CachingSQLTrackerStore

CLOSED_PORT = 1  # nothing listens on tcpmux


class Agent:
    def __init__(self, tracker_store, lock_store, loaded=True):
        self.tracker_store, self.lock_store, self.loaded = tracker_store, lock_store, loaded

    def is_ready(self):
        return self.loaded


def app_with(agent):
    return SimpleNamespace(ctx=SimpleNamespace(agent=agent))


async def probe(agent):
    """What /health/ready answers for a server with ``agent``: (status, body)."""
    answer = await health.guarded_readiness(lambda: readiness_checks(app_with(agent)))
    return answer.status, json.loads(answer.body)


def sqlite_store(tmp_path):
    # As Rasa's Agent holds it: the configured store inside a FailSafeTrackerStore.
    return FailSafeTrackerStore(CachingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db")))


def with_engine(store, url):
    """The store, its database moved to ``url`` (the store was made on SQLite: PostgreSQL may be down)."""
    store._tracker_store.engine = sa.create_engine(url)
    return store


def test_the_routes_are_at_the_servers_root_as_rasa_mounts_channels():
    app = Sanic(f"operations_{uuid.uuid4().hex[:8]}")
    register([OperationsInput()], app, route="/webhooks/")
    app.router.finalize()
    for path in ("/metrics", "/health/live", "/health/ready"):
        assert app.router.get(path, "GET", None)[0].path == path.lstrip("/")


@pytest.mark.asyncio
async def test_ready_when_the_model_is_loaded_and_the_embedded_stores_answer(tmp_path):
    status, body = await probe(Agent(sqlite_store(tmp_path), InMemoryLockStore()))
    assert status == 200
    assert body == {"ready": True, "checks": {"model": "ok", "tracker_store": "ok", "lock_store": "ok"}}


@pytest.mark.asyncio
async def test_in_memory_stores_have_nothing_to_ask():
    status, _ = await probe(Agent(FailSafeTrackerStore(InMemoryTrackerStore(None)), InMemoryLockStore()))
    assert status == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("agent", [None, Agent(None, None, loaded=False)], ids=["no agent yet", "no model"])
async def test_not_ready_until_the_model_is_loaded(agent):
    assert await probe(agent) == (503, {"ready": False, "checks": {"model": "not loaded"}})


@pytest.mark.asyncio
async def test_an_unreachable_tracker_database_is_a_503_naming_it_at_once(tmp_path):
    store = with_engine(sqlite_store(tmp_path), f"postgresql://postgres@127.0.0.1:{CLOSED_PORT}/triage")
    started = time.monotonic()
    status, body = await probe(Agent(store, InMemoryLockStore()))
    assert time.monotonic() - started < 2
    assert status == 503 and body["ready"] is False
    assert body["checks"] == {"model": "ok", "tracker_store": "error: OperationalError", "lock_store": "ok"}
    assert "127.0.0.1" not in json.dumps(body)  # served without a token: no hosts or users in the answer


class SilentServer:
    """Accepts TCP connections and never says a word: a database host that hangs."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self._listener.accept()[0])
            except OSError:
                return

    def close(self):
        self._listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.mark.asyncio
async def test_a_tracker_database_that_hangs_is_a_timeout_and_probes_do_not_pile_up(tmp_path):
    server = SilentServer()
    try:
        store = with_engine(sqlite_store(tmp_path), f"postgresql://postgres@127.0.0.1:{server.port}/triage")
        for _ in range(2):
            started = time.monotonic()
            status, body = await probe(Agent(store, InMemoryLockStore()))
            assert time.monotonic() - started < health.CHECK_TIMEOUT_SECONDS + 1
            assert status == 503 and body["checks"]["tracker_store"] == "timeout"
        # The second probe waited for the first, still hanging check: one connection, not two.
        assert len(server.accepted) == 1
    finally:
        server.close()


@pytest.mark.asyncio
async def test_a_redis_lock_store_that_does_not_answer_is_a_503(tmp_path):
    locks = AtomicRedisLockStore(host="127.0.0.1", port=CLOSED_PORT, key_prefix=f"test-{uuid.uuid4().hex}")
    status, body = await probe(Agent(sqlite_store(tmp_path), locks))
    assert status == 503 and body["checks"]["lock_store"] == "error: ConnectionError"


@pytest.mark.asyncio
async def test_a_redis_lock_store_that_answers_is_ready(tmp_path):
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    locks = AtomicRedisLockStore(host="127.0.0.1", port=6379, key_prefix=f"test-{uuid.uuid4().hex}")
    status, body = await probe(Agent(sqlite_store(tmp_path), locks))
    assert status == 200 and body["checks"]["lock_store"] == "ok"


@pytest.mark.asyncio
async def test_a_check_that_breaks_is_a_503_never_a_500():
    async def broken():
        raise RuntimeError("a bug in a check")

    answer = await health.guarded_readiness(broken)
    assert answer.status == 503 and json.loads(answer.body)["ready"] is False


def test_metrics_are_prometheus_text_by_default_with_the_bots_metrics():
    answer = metrics_response(SimpleNamespace(headers={}))
    assert answer.status == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(answer.body.decode("utf-8"))}
    assert {"triage_messages_received", "triage_reply_latency_seconds", "triage_escalations"} <= names


def test_metrics_come_as_openmetrics_when_the_scraper_asks_for_them():
    answer = metrics_response(SimpleNamespace(headers={"accept": "application/openmetrics-text; version=1.0.0"}))
    assert answer.content_type.startswith("application/openmetrics-text")
    assert answer.body.decode("utf-8").rstrip().endswith("# EOF")


def test_a_production_instance_is_ready_once_postgresql_and_redis_answer(trained_model, tmp_path):
    # The real thing: Rasa with endpoints.production.yml on this machine's PostgreSQL, Redis and RabbitMQ.
    from bot.launcher import BotServers
    from tests.conftest import SHANGHAI_DAYTIME
    from tests.test_cluster import delete_queue, drop_database

    tag = uuid.uuid4().hex[:10]
    names = {"POSTGRES_DB": f"triage_test_{tag}", "REDIS_KEY_PREFIX": f"test{tag}",
             "RABBITMQ_QUEUE": f"triage_test_events_{tag}"}
    servers = BotServers(model=trained_model, profile="production",
                         rasa_ports=[int(os.environ.get("TEST_METRICS_RASA_PORT_2", 6306))],
                         actions_port=int(os.environ.get("TEST_METRICS_ACTIONS_PORT", 6355)),
                         log_dir=tmp_path / "logs", extra_env={"BOT_NOW": SHANGHAI_DAYTIME, **names})
    try:
        with servers:
            with urllib.request.urlopen(f"{servers.url}/health/ready", timeout=10) as answer:
                body = json.loads(answer.read())
            assert answer.status == 200
            assert body == {"ready": True, "checks": {"model": "ok", "tracker_store": "ok", "lock_store": "ok"}}
    finally:
        drop_database(names["POSTGRES_DB"])
        delete_queue(names["RABBITMQ_QUEUE"])
