"""The running bot's /metrics and /health endpoints, as Prometheus and a load balancer see them.

A bot of its own (Rasa with an auth token, action server, private ports, its own databases, a
rate limit of 3 messages a minute) takes conversations over REST and WeChat;
each test scrapes ``/metrics`` of the Rasa server and of the action server
before and after, with Prometheus' own parser, and checks what an operator
would read there.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.launcher import BotServers
from tests.channels.conftest import WeChatServerClient, new_openid, text_message
from tests.conftest import SHANGHAI_DAYTIME, WECHAT_ENV
from tests.test_action_server_down import SilentActionServer
from tests.test_conversations import new_sender, say, texts

RASA_PORT = int(os.environ.get("TEST_METRICS_RASA_PORT", 6305))
ACTIONS_PORT = int(os.environ.get("TEST_METRICS_ACTIONS_PORT", 6355))
WECHAT_API_PORT = int(os.environ.get("TEST_METRICS_WECHAT_API_PORT", 6390))  # answers are fast: never called
RATE_LIMIT = 3
ACTION_TIMEOUT = 3  # a hanging action server costs a test this long per call
TOKEN = "metrics-test-token"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def metrics_bot(trained_model, tmp_path_factory) -> Iterator[BotServers]:
    scratch = tmp_path_factory.mktemp("metrics-bot")
    servers = BotServers(
        model=trained_model,
        rasa_port=RASA_PORT,
        actions_port=ACTIONS_PORT,
        auth_token=TOKEN,  # as in production: the HTTP API needs it, monitoring does not
        tracker_db=scratch / "tracker.db",
        log_dir=scratch / "logs",
        extra_env={
            "BOT_NOW": SHANGHAI_DAYTIME,
            "DATABASE_URL": f"sqlite:///{scratch / 'service.db'}",
            "RATE_LIMIT_MESSAGES": str(RATE_LIMIT),
            "RATE_LIMIT_SECONDS": "60",
            "ACTION_TIMEOUT_SECONDS": str(ACTION_TIMEOUT),
            **WECHAT_ENV,
            "WECHAT_API_BASE": f"http://127.0.0.1:{WECHAT_API_PORT}",
        },
    )
    servers.start()
    yield servers
    servers.stop()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Status, content type and body of a GET."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode("utf-8")


def scrape(url: str) -> Samples:
    """Every sample of ``url``/metrics, read with Prometheus' parser."""
    status, content_type, body = get(f"{url}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


class Scrapes:
    """The Rasa server's and the action server's metrics now; ``changes()`` says what moved since."""

    def __init__(self, servers: BotServers) -> None:
        self.urls = {"rasa": servers.url, "actions": f"http://127.0.0.1:{servers.actions_port}"}
        self.before = {server: scrape(url) for server, url in self.urls.items()}

    def changes(self, server: str = "rasa") -> dict[str, float]:
        """``name{label="value"}`` -> how much it went up (only what moved; histogram buckets left out)."""
        after = scrape(self.urls[server])
        return {_series(name, labels): value - self.before[server].get((name, labels), 0.0)
                for (name, labels), value in after.items()
                if value != self.before[server].get((name, labels), 0.0) and name.startswith("triage_")
                and not name.endswith("_bucket")}


def _series(name: str, labels: tuple[tuple[str, str], ...]) -> str:
    return name + ("{" + ",".join(f'{key}="{value}"' for key, value in labels) + "}" if labels else "")


def test_rest_messages_are_counted_with_the_time_to_each_answer(metrics_bot):
    scrapes, sender = Scrapes(metrics_bot), new_sender()
    say(metrics_bot, "你好", sender)
    say(metrics_bot, "客服电话多少", sender)
    changed = scrapes.changes()
    assert changed.pop('triage_messages_received_total{channel="rest"}') == 2
    assert changed.pop('triage_reply_latency_seconds_count{channel="rest"}') == 2
    assert 0 < changed.pop('triage_reply_latency_seconds_sum{channel="rest"}') < 20
    assert changed.pop('triage_conversations_total{channel="rest"}') == 1  # one shopper, one conversation
    assert changed == {}  # answered by the bot: no fallback, no escalation


def test_a_flooding_sender_is_counted_as_rate_limited_and_gets_no_reply_time(metrics_bot):
    scrapes, sender = Scrapes(metrics_bot), new_sender()
    for _ in range(RATE_LIMIT + 2):
        say(metrics_bot, "你好", sender)
    changed = scrapes.changes()
    assert changed['triage_messages_received_total{channel="rest"}'] == RATE_LIMIT + 2
    assert changed['triage_messages_rate_limited_total{channel="rest"}'] == 2
    assert changed['triage_reply_latency_seconds_count{channel="rest"}'] == RATE_LIMIT


def test_an_unclear_message_is_an_nlu_fallback_and_none_of_the_topics_an_escalation(metrics_bot):
    scrapes, sender = Scrapes(metrics_bot), new_sender()
    assert "是下面哪一个" in texts(say(metrics_bot, "那个东西", sender))
    assert scrapes.changes()['triage_nlu_fallbacks_total{intent="nlu_fallback"}'] == 1
    assert "建议直接找人工客服" in texts(say(metrics_bot, "都不是", sender))
    changed = scrapes.changes()
    assert changed['triage_escalations_total{reason="none_of_the_topics"}'] == 1
    assert changed["triage_escalated_conversations_total"] == 1


def test_asking_for_a_person_escalates_on_rasa_and_the_action_server_counts_the_handoff(metrics_bot):
    scrapes, sender = Scrapes(metrics_bot), new_sender()
    answer = texts(say(metrics_bot, "转人工", sender))
    assert "已为您建好转人工工单" in answer
    # While a person has the conversation, an unclear message is relayed, not a fallback.
    say(metrics_bot, "那个东西", sender)
    rasa = scrapes.changes()
    assert rasa['triage_escalations_total{reason="asked_for_human"}'] == 1
    assert rasa["triage_escalated_conversations_total"] == 1
    assert 'triage_nlu_fallbacks_total{intent="nlu_fallback"}' not in rasa
    assert scrapes.changes("actions") == {
        'triage_handoffs_total{service_hours="open"}': 1,
        'triage_tickets_opened_total{kind="handoff"}': 1,
    }


def test_venting_that_goes_to_a_person_is_a_frustration_escalation(metrics_bot):
    scrapes = Scrapes(metrics_bot)
    say(metrics_bot, "垃圾客服", new_sender())
    changed = scrapes.changes()
    assert changed['triage_escalations_total{reason="frustration"}'] == 1
    assert 'triage_escalations_total{reason="asked_for_human"}' not in changed
    assert scrapes.changes("actions")['triage_handoffs_total{service_hours="open"}'] == 1


def test_a_priority_complaint_is_an_escalation_counted_by_the_action_server(metrics_bot):
    scrapes, sender = Scrapes(metrics_bot), new_sender()
    say(metrics_bot, "我要投诉", sender)
    say(metrics_bot, "买的坚果发霉了 孩子吃了拉肚子", sender)
    assert "优先处理" in texts(say(metrics_bot, "/deny", sender))
    assert scrapes.changes("actions") == {
        'triage_escalations_total{reason="priority_complaint"}': 1,
        'triage_tickets_opened_total{kind="complaint"}': 1,
    }


def test_a_wechat_message_is_counted_under_wechat(metrics_bot):
    scrapes, openid = Scrapes(metrics_bot), new_openid()
    reply = WeChatServerClient(metrics_bot.url, WECHAT_ENV["WECHAT_TOKEN"]).post(text_message(openid, "客服电话多少"))
    assert reply.status == 200 and "400-8822-528" in reply.body
    changed = scrapes.changes()
    assert changed['triage_messages_received_total{channel="wechat"}'] == 1
    assert changed['triage_reply_latency_seconds_count{channel="wechat"}'] == 1
    assert changed['triage_conversations_total{channel="wechat"}'] == 1


def test_metrics_and_health_need_no_token_where_the_http_api_does(metrics_bot):
    assert get(f"{metrics_bot.url}/status")[0] == 401
    for path in ("/metrics", "/health/live", "/health/ready"):
        assert get(f"{metrics_bot.url}{path}")[0] == 200, path


def test_metrics_come_as_openmetrics_on_request(metrics_bot):
    status, content_type, body = get(f"{metrics_bot.url}/metrics",
                                     {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200 and content_type.startswith("application/openmetrics-text")
    assert "triage_reply_latency_seconds_bucket" in body and body.rstrip().endswith("# EOF")


def test_the_running_bot_is_live_and_ready(metrics_bot):
    assert get(f"{metrics_bot.url}/health/live")[0] == 200
    status, content_type, body = get(f"{metrics_bot.url}/health/ready")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"ready": True, "checks": {"model": "ok", "tracker_store": "ok", "lock_store": "ok"}}


def test_the_action_server_is_live_and_ready(metrics_bot):
    actions = f"http://127.0.0.1:{metrics_bot.actions_port}"
    assert get(f"{actions}/health")[0] == 200  # rasa_sdk's own, still there
    assert get(f"{actions}/health/live")[0] == 200
    status, _, body = get(f"{actions}/health/ready")
    assert status == 200 and json.loads(body) == {"ready": True, "checks": {"service_database": "ok"}}


def post_action_call(servers: BotServers, call: dict | bytes, deflate: bool = False) -> int:
    body = call if isinstance(call, bytes) else json.dumps(call).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if deflate:  # as Rasa may send it
        body, headers["Content-Encoding"] = zlib.compress(body), "deflate"
    request = urllib.request.Request(f"http://127.0.0.1:{servers.actions_port}/webhook", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_an_action_that_fails_on_the_action_server_is_counted_by_its_name(metrics_bot):
    scrapes = Scrapes(metrics_bot)
    broken = {"next_action": "action_handoff", "tracker": None, "domain": {}}  # the action cannot read it
    assert post_action_call(metrics_bot, broken) == 500
    # rasa_sdk 3.6.2's error handler cannot read a deflated body back and says 400: the action failed all the same.
    assert post_action_call(metrics_bot, broken, deflate=True) == 400
    # Not failed actions: no such action, and a body that is not JSON (nothing ran).
    assert post_action_call(metrics_bot, {"next_action": "action_made_up", "tracker": {}}) == 404
    assert post_action_call(metrics_bot, b"{not json") == 400
    assert scrapes.changes("actions") == {'triage_action_server_errors_total{action="action_handoff"}': 2}


def test_with_the_action_server_down_or_hanging_the_rasa_server_counts_the_failed_calls(metrics_bot):
    # Last: it stops the action server, puts a silent one on its port, then starts it again.
    scrapes = Scrapes(metrics_bot)
    metrics_bot.stop_actions()
    try:
        assert "400-8822-528" in texts(say(metrics_bot, "我要退款", new_sender()))  # the way to a person
        changed = scrapes.changes()
        # The refund form's checks were the first call it could not make, by their action's name.
        assert changed['triage_action_errors_total{action="validate_refund_form"}'] == 1
        assert not any(name.startswith("triage_action_timeouts_total") for name in changed)  # refused, not slow
        assert get(f"{metrics_bot.url}/health/ready")[0] == 200  # the Rasa server itself is fine

        with SilentActionServer(port=metrics_bot.actions_port):
            assert "400-8822-528" in texts(say(metrics_bot, "我要退款", new_sender()))
        assert scrapes.changes()['triage_action_timeouts_total{action="validate_refund_form"}'] == 1
    finally:
        metrics_bot.start_actions()
