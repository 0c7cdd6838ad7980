"""The shared state's Redis unreachable: every channel still answers at once, the operator is told once."""
from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest

from bot.launcher import BotServers
from tests.channels.conftest import WeChatServerClient, new_openid, text_message
from tests.channels.test_socketio_persistence import Page
from tests.conftest import SHANGHAI_DAYTIME, WECHAT_ENV
from tests.test_cluster import say
from tests.test_cluster_shared_state import content
from tests.test_conversations import new_sender, texts

RASA_PORT = 6405
ACTIONS_PORT = 6455


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def bot_without_redis(trained_model, tmp_path_factory):
    """The embedded profile's stores (no Redis needed for locks) with the shared state in a Redis that is not there."""
    scratch = tmp_path_factory.mktemp("redis-down")
    env = {"BOT_NOW": SHANGHAI_DAYTIME, "DATABASE_URL": f"sqlite:///{scratch / 'service.db'}",
           "WECHAT_TOKEN": WECHAT_ENV["WECHAT_TOKEN"], "SHARED_STATE": "redis", "REDIS_HOST": "127.0.0.1",
           "REDIS_PORT": str(closed_port()), "REDIS_KEY_PREFIX": f"test{uuid.uuid4().hex[:10]}",
           "RATE_LIMIT_MESSAGES": "1", "RATE_LIMIT_SECONDS": "60"}
    servers = BotServers(model=trained_model, rasa_port=RASA_PORT, actions_port=ACTIONS_PORT,
                         tracker_db=scratch / "tracker.db", log_dir=scratch / "logs", extra_env=env)
    servers.log = scratch / "logs" / f"rasa-{RASA_PORT}.log"
    with servers:
        yield servers


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_rest_answers_and_the_rate_limit_is_lifted_rather_than_refusing_anyone(bot_without_redis):
    sender = new_sender()
    for n in range(3):  # RATE_LIMIT_MESSAGES is 1: only an unreachable Redis lets these through
        answer, seconds = timed(lambda: say(bot_without_redis.url, f"客服电话多少 第{n}次", sender))
        assert "400-8822-528" in texts(answer)
        assert seconds < 3


def test_wechat_messages_and_their_retries_are_answered(bot_without_redis):
    wechat = WeChatServerClient(bot_without_redis.url, WECHAT_ENV["WECHAT_TOKEN"])
    openid = new_openid()
    body = text_message(openid, "人工客服几点下班")
    for _ in range(2):  # without the shared memory of MsgIds a retry is answered again: better than not at all
        reply, seconds = timed(lambda: wechat.post(body))
        assert "23:00" in content(reply) and seconds < 3
    greeting = content(wechat.post(text_message(openid, "你好")))
    assert "1. 退款/退货" in greeting
    # No pending choice without Redis: the number is read as text, and still answered.
    assert content(wechat.post(text_message(openid, "1")))


@pytest.mark.asyncio
async def test_socket_io_answers_its_own_tabs(bot_without_redis):
    session = uuid.uuid4().hex
    tab, second_tab = Page(bot_without_redis.url), Page(bot_without_redis.url)
    try:
        await tab.open(session)
        await second_tab.open(session)
        await tab.say("客服电话多少", session)
        answer = await tab.answer()
        on_second_tab = await second_tab.answer()
    finally:
        await tab.close()
        await second_tab.close()
    assert "400-8822-528" in answer["text"] and on_second_tab == answer


def test_the_operator_is_told_once_per_outage_and_nothing_failed(bot_without_redis):
    log = bot_without_redis.log.read_text(encoding="utf-8", errors="replace")
    shared_state = [line for line in log.splitlines() if "Shared state: Redis at" in line]
    socket_io = [line for line in log.splitlines() if "socket.io: Redis at" in line]
    assert len(shared_state) == 1
    assert "unreachable" in shared_state[0] and "every message is let through" in shared_state[0]
    assert len(socket_io) == 1 and "unreachable" in socket_io[0]
    assert "Traceback" not in log and "Exception occurred while handling uri" not in log
