"""The state the instances share: the same behaviour in memory and in Redis; Redis shared, atomic, failing open."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from typing import AsyncIterator, Iterator, List, Set

import pytest
import pytest_asyncio

from bot.stores.shared_state import (
    MemorySharedState, MemoryValues, RedisSettings, RedisSharedState, backend_name, shared_redis,
)

REDIS = dict(host="127.0.0.1", port=6379, db=1)
LOGGER = "bot.stores.shared_state"


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis(**REDIS, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")


@pytest.fixture
def prefix():
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    import redis

    redis_or_skip()
    prefix = f"test-shared-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis(**REDIS)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


def keys_under(prefix: str) -> List[str]:
    import redis

    client = redis.Redis(**REDIS)
    try:
        return sorted(key.decode() for key in client.scan_iter(match=f"{prefix}:*"))
    finally:
        client.close()


@contextlib.asynccontextmanager
async def redis_instances(prefix: str, count: int = 1, **options) -> AsyncIterator[List[RedisSharedState]]:
    """``count`` Rasa instances' shared state: separate clients on the same Redis and prefix."""
    states = [RedisSharedState(RedisSettings(**REDIS, key_prefix=prefix), **options) for _ in range(count)]
    try:
        yield states
    finally:
        for state in states:
            await state.close()


@pytest_asyncio.fixture(params=["memory", "redis"])
async def backend(request):
    """Each backend, with a clock the test moves (Redis: the time the windows are judged by)."""
    clock = Clock(1_700_000_000.0)
    if request.param == "memory":
        yield MemorySharedState(clock=clock), clock
        return
    prefix = request.getfixturevalue("prefix")
    async with redis_instances(prefix, clock=clock) as [state]:
        yield state, clock


# --- the same behaviour in both backends ------------------------------------------------


@pytest.mark.asyncio
async def test_more_than_the_limit_within_the_window_is_refused_then_allowed_again(backend):
    state, clock = backend
    limit = state.rate_limit("rate_limit", limit=3, window=10)
    start = clock.now
    assert [await limit.allow("a") for _ in range(4)] == [True, True, True, False]
    clock.now = start + 9.9
    assert not await limit.allow("a")
    clock.now = start + 10.0
    assert await limit.allow("a")


@pytest.mark.asyncio
async def test_one_sender_flooding_does_not_limit_another(backend):
    state, _ = backend
    limit = state.rate_limit("rate_limit", limit=2, window=10)
    assert [await limit.allow("flood") for _ in range(5)] == [True, True, False, False, False]
    assert await limit.allow("calm")


@pytest.mark.asyncio
async def test_refused_messages_do_not_extend_the_wait(backend):
    state, clock = backend
    limit = state.rate_limit("rate_limit", limit=1, window=10)
    start = clock.now
    await limit.allow("a")
    for second in range(1, 10):
        clock.now = start + second
        assert not await limit.allow("a")
    clock.now = start + 10
    assert await limit.allow("a")


@pytest.mark.asyncio
async def test_the_window_slides_message_by_message(backend):
    state, clock = backend
    limit = state.rate_limit("rate_limit", limit=2, window=10)
    start = clock.now
    assert await limit.allow("a")
    clock.now = start + 6
    assert await limit.allow("a")
    clock.now = start + 9
    assert not await limit.allow("a")
    clock.now = start + 10  # the first message left the window, the second not yet
    assert await limit.allow("a")
    assert not await limit.allow("a")


@pytest.mark.asyncio
async def test_values_come_back_as_they_were_put_until_forgotten(backend):
    state, _ = backend
    choices = state.expiring_values("wechat_choices", ttl=60)
    buttons = [{"title": "退款/退货", "payload": "/refund"}, {"title": "查物流", "payload": "/logistics"}]
    assert await choices.get("o-1") is None
    await choices.put("o-1", buttons)
    assert await choices.get("o-1") == buttons
    await choices.put("o-1", buttons[:1])
    assert await choices.get("o-1") == buttons[:1]
    await choices.forget("o-1")
    assert await choices.get("o-1") is None
    await choices.forget("never-put")


@pytest.mark.asyncio
async def test_a_key_is_seen_for_the_first_time_once(backend):
    state, _ = backend
    seen = state.expiring_values("wechat_seen", ttl=60)
    assert await seen.remember_first_time("message:gh:1001")
    assert not await seen.remember_first_time("message:gh:1001")
    assert await seen.remember_first_time("message:gh:1002")


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_values_and_seen_keys_are_forgotten_after_their_ttl(kind, request):
    async with contextlib.AsyncExitStack() as stack:
        if kind == "memory":
            state = MemorySharedState()
        else:
            [state] = await stack.enter_async_context(redis_instances(request.getfixturevalue("prefix")))
        seen, values = state.expiring_values("seen", ttl=0.3), state.expiring_values("values", ttl=0.3)
        assert await seen.remember_first_time("k")
        await values.put("k", {"a": 1})
        await asyncio.sleep(0.5)
        assert await values.get("k") is None
        assert await seen.remember_first_time("k")


@pytest.mark.asyncio
async def test_memory_stays_bounded_oldest_first():
    now = Clock()
    memory = MemoryValues(ttl=300, max_entries=3, clock=now)
    assert await memory.remember_first_time("msg-1")
    for key in ("a", "b", "c"):
        await memory.put(key, key)
    assert await memory.get("msg-1") is None and await memory.get("c") == "c"


@pytest.mark.asyncio
async def test_memory_forgets_idle_senders_windows():
    clock = Clock()
    limit = MemorySharedState(clock=clock).rate_limit("rate_limit", limit=1, window=1)
    for index in range(999):
        await limit.allow(f"s{index}")
    clock.now = 100
    await limit.allow("late")  # the 1000th call prunes
    assert len(limit._seen) == 1


@pytest.mark.asyncio
async def test_memory_belongs_to_one_process():
    first, second = MemorySharedState(), MemorySharedState()
    assert await first.expiring_values("wechat_seen", 60).remember_first_time("m")
    assert await second.expiring_values("wechat_seen", 60).remember_first_time("m")


# --- Redis: shared by the instances, atomic ------------------------------------------------


@pytest.mark.asyncio
async def test_what_one_instance_remembers_the_other_sees(prefix):
    async with redis_instances(prefix, 2) as (first, second):
        assert await first.expiring_values("wechat_seen", 60).remember_first_time("message:gh:1")
        assert not await second.expiring_values("wechat_seen", 60).remember_first_time("message:gh:1")
        await first.expiring_values("wechat_choices", 60).put("o-1", [{"title": "查物流", "payload": "/logistics"}])
        assert await second.expiring_values("wechat_choices", 60).get("o-1") == [
            {"title": "查物流", "payload": "/logistics"}
        ]
        limits = [state.rate_limit("rate_limit", limit=3, window=10) for state in (first, second)]
        assert [await limits[n % 2].allow("sender") for n in range(5)] == [True, True, True, False, False]


@pytest.mark.asyncio
async def test_of_simultaneous_first_sightings_on_two_instances_exactly_one_wins(prefix):
    async with redis_instances(prefix, 2) as states:
        seen = [state.expiring_values("wechat_seen", 60) for state in states]
        for msg_id in range(20):
            firsts = await asyncio.gather(*(seen[n % 2].remember_first_time(f"m{msg_id}") for n in range(8)))
            assert sum(firsts) == 1


@pytest.mark.asyncio
async def test_simultaneous_messages_on_two_instances_never_exceed_the_limit(prefix):
    async with redis_instances(prefix, 2) as states:
        limits = [state.rate_limit("rate_limit", limit=10, window=10) for state in states]
        allowed = await asyncio.gather(*(limits[n % 2].allow("flood") for n in range(60)))
    assert sum(allowed) == 10


@pytest.mark.asyncio
async def test_every_key_is_under_the_prefix_and_expires(prefix):
    import redis

    async with redis_instances(prefix) as [state]:
        await state.rate_limit("rate_limit", limit=3, window=10).allow("o-1")
        await state.expiring_values("wechat_seen", 300).remember_first_time("message:gh:7")
        await state.expiring_values("wechat_choices", 1800).put("o-1", [])
    assert keys_under(prefix) == [
        f"{prefix}:rate_limit:o-1", f"{prefix}:wechat_choices:o-1", f"{prefix}:wechat_seen:message:gh:7",
    ]
    client = redis.Redis(**REDIS)
    ttls = {key: client.pttl(key) for key in keys_under(prefix)}
    client.close()
    assert 0 < ttls[f"{prefix}:rate_limit:o-1"] <= 10_000
    assert 290_000 < ttls[f"{prefix}:wechat_seen:message:gh:7"] <= 300_000
    assert 1_790_000 < ttls[f"{prefix}:wechat_choices:o-1"] <= 1_800_000


@pytest.mark.asyncio
async def test_the_rate_limit_works_on_after_redis_forgot_its_script(prefix):
    import redis

    async with redis_instances(prefix) as [state]:
        limit = state.rate_limit("rate_limit", limit=1, window=10)
        assert await limit.allow("a")
        client = redis.Redis(**REDIS)
        client.script_flush()  # what a Redis restart does
        client.close()
        assert not await limit.allow("a")


# --- Redis unreachable: fail open, one warning, never a hang ------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def everything_once(state) -> list:
    limit = state.rate_limit("rate_limit", limit=1, window=10)
    seen, choices = state.expiring_values("wechat_seen", 60), state.expiring_values("wechat_choices", 60)
    await choices.put("o-1", [{"title": "查物流", "payload": "/logistics"}])
    await choices.forget("o-1")
    return [await limit.allow("a"), await limit.allow("a"), await seen.remember_first_time("m"),
            await seen.remember_first_time("m"), await choices.get("o-1")]


def warnings_in(caplog) -> List[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER and record.levelno >= logging.WARNING]


@pytest.mark.asyncio
async def test_redis_on_a_closed_port_fails_open_with_one_warning(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    state = RedisSharedState(RedisSettings(host="127.0.0.1", port=closed_port(), key_prefix="unreachable"))
    started = time.monotonic()
    results = [await everything_once(state) for _ in range(3)]
    await state.close()
    assert time.monotonic() - started < 1.0
    # Every message allowed, every key new, no choice pending.
    assert results == [[True, True, True, True, None]] * 3
    [warning] = warnings_in(caplog)
    assert "127.0.0.1" in warning and "unreachable" in warning and "every message is let through" in warning


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that takes connections and never answers: a Redis that hangs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.mark.asyncio
async def test_a_hanging_redis_delays_one_message_then_is_left_alone(caplog):
    with silent_server() as port:
        state = RedisSharedState(RedisSettings(host="127.0.0.1", port=port), socket_timeout=0.3, retry_after=60)
        started = time.monotonic()
        assert await state.rate_limit("rate_limit", limit=1, window=10).allow("a")
        first = time.monotonic() - started
        results = [await everything_once(state) for _ in range(5)]
        rest = time.monotonic() - started - first
        await state.close()
    assert 0.25 < first < 1.5
    assert rest < 0.1
    assert results == [[True, True, True, True, None]] * 5
    assert len(warnings_in(caplog)) == 1


class SwitchableProxy:
    """A TCP proxy to the real Redis that can be cut and restored: an outage and its end."""

    def __init__(self) -> None:
        self.up = True
        self._connections: List[asyncio.StreamWriter] = []
        self._serving: Set[asyncio.Task] = set()
        self._server: asyncio.AbstractServer

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.up = False
        for writer in self._connections:
            writer.close()
        self._connections.clear()

    def restore(self) -> None:
        self.up = True

    async def stop(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()
        await asyncio.gather(*self._serving, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        self._serving.add(asyncio.current_task())
        upstream_reader, upstream_writer = await asyncio.open_connection(REDIS["host"], REDIS["port"])
        self._connections += [writer, upstream_writer]

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    target.write(data)
                    await target.drain()
            target.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.mark.asyncio
async def test_each_outage_is_logged_once_and_its_end_too(prefix, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    proxy = SwitchableProxy()
    port = await proxy.start()
    state = RedisSharedState(RedisSettings(host="127.0.0.1", port=port, db=REDIS["db"], key_prefix=prefix),
                             socket_timeout=0.5, retry_after=0.2)
    seen = state.expiring_values("wechat_seen", 60)

    async def outage() -> None:
        proxy.cut()
        for _ in range(5):
            assert await seen.remember_first_time("during-outage")  # fails open
        await asyncio.sleep(0.3)  # past retry_after: Redis is asked again, and still fails
        assert await seen.remember_first_time("during-outage")
        proxy.restore()
        await asyncio.sleep(0.3)

    try:
        assert await seen.remember_first_time("before")
        await outage()
        assert not await seen.remember_first_time("before")  # the state survived the outage
        await outage()
        assert await seen.remember_first_time("after")
    finally:
        await state.close()
        await proxy.stop()
    lines = [(record.levelname, record.getMessage()) for record in caplog.records if record.name == LOGGER]
    assert [level for level, _ in lines] == ["WARNING", "INFO", "WARNING", "INFO"]
    assert "reachable again" in lines[1][1]


# --- chosen by the environment -------------------------------------------------------------------


def test_memory_unless_the_environment_says_redis():
    assert backend_name({}) == "memory" and shared_redis({}) is None
    assert backend_name({"SHARED_STATE": " Redis "}) == "redis"
    with pytest.raises(ValueError, match="SHARED_STATE"):
        backend_name({"SHARED_STATE": "redsi"})


def test_the_redis_url_and_keys_come_from_the_redis_variables():
    settings = shared_redis({"SHARED_STATE": "redis", "REDIS_HOST": "redis.internal", "REDIS_PORT": "6380",
                             "REDIS_DB": "2", "REDIS_PASSWORD": "p@ss:/word", "REDIS_KEY_PREFIX": "shop1"})
    assert settings.url == "redis://:p%40ss%3A%2Fword@redis.internal:6380/2"
    assert settings.address == "redis.internal:6380/2"  # for logs: no password
    assert settings.key("wechat_seen", "message:gh:1") == "shop1:wechat_seen:message:gh:1"
    defaults = shared_redis({"SHARED_STATE": "redis", "REDIS_PASSWORD": ""})
    assert defaults.url == "redis://127.0.0.1:6379/1" and defaults.key_prefix == "triage"
    with pytest.raises(ValueError, match="REDIS_PORT"):
        shared_redis({"SHARED_STATE": "redis", "REDIS_PORT": "six"})


def test_the_production_profile_shares_its_state_in_redis_and_the_embedded_one_does_not():
    from bot.settings import profile_env_defaults

    assert backend_name(profile_env_defaults("production")) == "redis"
    assert backend_name(profile_env_defaults("embedded")) == "memory"


@pytest.mark.asyncio
async def test_a_value_someone_else_wrote_under_the_prefix_reads_as_nothing(prefix):
    import redis

    client = redis.Redis(**REDIS)
    client.set(f"{prefix}:wechat_choices:o-1", b"\xff not json")
    client.close()
    async with redis_instances(prefix) as [state]:
        assert await state.expiring_values("wechat_choices", 60).get("o-1") is None
