"""socket.io's Redis client manager: emits go to the other instances, and a Redis that hangs holds none."""
from __future__ import annotations

import json
import logging
import socket
import time
import uuid

import pytest
import redis
import redis.asyncio
from socketio import AsyncServer

from bot.channels.socketio import PUBLISH_TIMEOUT, SharedRoomsManager, client_manager
from bot.stores.shared_state import RedisSettings


async def next_message(subscription, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await subscription.get_message(timeout=0.5)  # None for the subscription's own notice
        if message is not None:
            return message
    raise AssertionError("nothing was published")


def server_with(settings: RedisSettings) -> AsyncServer:
    return AsyncServer(async_mode="sanic", client_manager=SharedRoomsManager(settings))


def test_the_manager_is_redis_only_when_the_state_is_shared(monkeypatch):
    monkeypatch.delenv("SHARED_STATE", raising=False)
    assert client_manager() is None
    monkeypatch.setenv("SHARED_STATE", "redis")
    monkeypatch.setenv("REDIS_KEY_PREFIX", "shop1")
    assert client_manager().channel == "shop1:socketio"  # Redis pub/sub ignores the database: the prefix separates


@pytest.mark.asyncio
async def test_an_emit_to_a_room_is_published_for_the_other_instances():
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    settings = RedisSettings(host="127.0.0.1", port=6379, db=1, key_prefix=f"test-rooms-{uuid.uuid4().hex[:10]}")
    listener = redis.asyncio.Redis(host="127.0.0.1", port=6379)
    subscription = listener.pubsub(ignore_subscribe_messages=True)
    await subscription.subscribe(settings.key("socketio"))
    try:
        await server_with(settings).emit("bot_uttered", {"text": "您好"}, room="session-1")
        message = await next_message(subscription)
    finally:
        await subscription.unsubscribe()
        await listener.close()
    published = json.loads(message["data"])
    assert (published["event"], published["data"], published["room"]) == ("bot_uttered", [{"text": "您好"}], "session-1")


@pytest.mark.asyncio
async def test_a_hanging_redis_holds_one_emit_briefly_then_none(caplog):
    with socket.socket() as silent:  # takes connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        server = server_with(RedisSettings(host="127.0.0.1", port=silent.getsockname()[1]))
        started = time.monotonic()
        await server.emit("bot_uttered", {"text": "第一条"}, room="session-1")
        first = time.monotonic() - started
        for n in range(5):
            await server.emit("bot_uttered", {"text": f"第{n}条"}, room="session-1")
        rest = time.monotonic() - started - first
    assert first < PUBLISH_TIMEOUT + 0.5 and rest < 0.1
    warnings = [r for r in caplog.records if r.name == "bot.channels.socketio" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
