"""bot/channels/guard.py on its own: what reaches the bot, what the user is told."""
from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.guard import GuardSettings, MessageGuard
from bot.services.replies import reply


class Bot:
    def __init__(self) -> None:
        self.received = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "answer")


async def send(guard, text, sender="s"):
    bot, out = Bot(), CollectingOutputChannel()
    await guard.handle(UserMessage(text, out, sender), bot)
    return bot.received, [m["text"] for m in out.messages]


@pytest.fixture
def guard():
    return MessageGuard(GuardSettings(max_message_chars=50, rate_limit_messages=3, rate_limit_seconds=60))


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["", "   ", "\u200b\u202e", "\x00\x07", None])
async def test_empty_messages_get_an_answer_and_are_not_processed(guard, text):
    received, told = await send(guard, text)
    assert received == [] and told == [reply("guard_empty")["text"]]


@pytest.mark.asyncio
async def test_long_message_is_cut_and_the_user_told(guard):
    received, told = await send(guard, "退" * 20_000)
    assert received == ["退" * 50]
    assert told == [reply("guard_truncated", max_chars=50)["text"], "answer"]


@pytest.mark.asyncio
async def test_bidi_and_control_characters_are_removed(guard):
    received, _ = await send(guard, "客服\u202e电话\x07多少")
    assert received == ["客服电话 多少"]


@pytest.mark.asyncio
async def test_secrets_are_masked_before_the_bot_and_the_user_warned(guard):
    received, told = await send(guard, "验证码 482913 密码是abc123")
    assert received == ["验证码 ****** 密码是******"]
    assert told == [reply("guard_secret")["text"], "answer"]


@pytest.mark.asyncio
async def test_a_flooding_sender_is_slowed_down_and_others_are_not(guard):
    results = [await send(guard, f"消息{n}", sender="flood") for n in range(5)]
    assert [len(received) for received, _ in results] == [1, 1, 1, 0, 0]
    assert results[-1][1] == [reply("guard_slow_down")["text"]]
    assert (await send(guard, "你好", sender="calm"))[0] == ["你好"]


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "80")
    monkeypatch.setenv("RATE_LIMIT_MESSAGES", "abc")
    settings = GuardSettings.from_env()
    assert settings.max_message_chars == 80
    assert settings.rate_limit_messages == 20  # unreadable: the default


@pytest.mark.asyncio
async def test_with_the_state_in_redis_one_senders_limit_holds_across_instances():
    import uuid

    import redis

    from bot.stores.shared_state import RedisSettings, RedisSharedState

    settings = RedisSettings(host="127.0.0.1", port=6379, db=1, key_prefix=f"test-guard-{uuid.uuid4().hex[:10]}")
    try:
        redis.Redis(host=settings.host, port=settings.port, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    states = [RedisSharedState(settings) for _ in range(2)]
    limits = GuardSettings(rate_limit_messages=3, rate_limit_seconds=60)
    instances = [MessageGuard(limits, state) for state in states]
    try:
        results = [await send(instances[n % 2], f"消息{n}", sender="flood") for n in range(5)]
    finally:
        for state in states:
            await state.close()
        client = redis.Redis(host=settings.host, port=settings.port, db=settings.db)
        client.delete(*client.keys(f"{settings.key_prefix}:*"))
        client.close()
    assert [len(received) for received, _ in results] == [1, 1, 1, 0, 0]
    assert results[3][1] == [reply("guard_slow_down")["text"]]


def metric(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


class SlowBot(Bot):
    async def __call__(self, message: UserMessage) -> None:
        await asyncio.sleep(0.05)
        await super().__call__(message)


@pytest.mark.asyncio
async def test_messages_are_counted_by_channel_with_the_time_to_the_answer(guard):
    before = {name: metric(name, channel="wechat") for name in (
        "triage_messages_received_total", "triage_messages_rate_limited_total", "triage_reply_latency_seconds_count",
        "triage_reply_latency_seconds_sum")}
    bot = SlowBot()
    for n in range(5):
        await guard.handle(UserMessage(f"消息{n}", CollectingOutputChannel(), "flood", input_channel="wechat"), bot)
    after = {name: metric(name, channel="wechat") for name in before}
    assert after["triage_messages_received_total"] - before["triage_messages_received_total"] == 5
    assert after["triage_messages_rate_limited_total"] - before["triage_messages_rate_limited_total"] == 2
    # Only the three the bot answered have a reply time, each at least the bot's 50 ms.
    assert after["triage_reply_latency_seconds_count"] - before["triage_reply_latency_seconds_count"] == 3
    assert after["triage_reply_latency_seconds_sum"] - before["triage_reply_latency_seconds_sum"] >= 0.15


@pytest.mark.asyncio
async def test_an_unknown_channel_is_counted_as_other_never_by_its_name(guard):
    before = metric("triage_messages_received_total", channel="other")
    await guard.handle(UserMessage("你好", CollectingOutputChannel(), "s", input_channel="my-own-channel-1234"), Bot())
    assert metric("triage_messages_received_total", channel="other") - before == 1
    assert metric("triage_messages_received_total", channel="my-own-channel-1234") == 0
