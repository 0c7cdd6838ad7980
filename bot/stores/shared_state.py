"""What the Rasa instances share: rate-limit windows, WeChat MsgIds seen, pending numbered choices.

One interface, two backends, chosen by ``SHARED_STATE``:

- ``memory`` (unset; the embedded profile and unit tests): this process's
  memory, bounded; each process counts and remembers on its own.
- ``redis`` (the production profile's default, bot/settings.py): the Redis of
  ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_DB``, ``REDIS_PASSWORD``, every key
  under ``REDIS_KEY_PREFIX``. Whichever instance a message lands on, it sees
  the same windows, MsgIds and choices.

An unreachable Redis never costs a user an answer: every operation fails open
(the message is allowed, a key counts as seen for the first time, no choice is
pending), with one warning per outage. Sockets give up after
:data:`SOCKET_TIMEOUT` seconds, and for :data:`RETRY_AFTER` seconds after a
failure Redis is not asked at all, so a Redis that hangs delays at most one
message now and then.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Protocol, TypeVar
from urllib.parse import quote

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.settings import PRODUCTION_ENV_DEFAULTS

logger = logging.getLogger(__name__)

MEMORY = "memory"
REDIS = "redis"
SOCKET_TIMEOUT = 1.0
RETRY_AFTER = 5.0
MEMORY_MAX_ENTRIES = 100_000
# Rate-limit windows of senders idle longer than this many windows are forgotten
# (memory backend; Redis expires each window itself).
_FORGET_AFTER_WINDOWS = 6
_PRUNE_EVERY = 1000

T = TypeVar("T")


class ExpiringValues(Protocol):
    """JSON values under string keys, each forgotten ``ttl`` seconds after it was set."""

    async def get(self, key: str) -> Any: ...

    async def put(self, key: str, value: Any) -> None: ...

    async def forget(self, key: str) -> None: ...

    async def remember_first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen within ``ttl`` (and remembers it)."""
        ...


class RateLimit(Protocol):
    async def allow(self, key: str) -> bool:
        """False once ``key`` had ``limit`` allowed calls within the last ``window`` seconds."""
        ...


class SharedState(Protocol):
    def expiring_values(self, name: str, ttl: float) -> ExpiringValues: ...

    def rate_limit(self, name: str, limit: int, window: float) -> RateLimit: ...


# --- memory: one process ---------------------------------------------------------


class MemoryValues:
    """A bounded map in this process whose entries expire ``ttl`` seconds after they were set.

    Values are kept as JSON text, so what works here works in Redis too.
    """

    def __init__(
        self, ttl: float, max_entries: int = MEMORY_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def get(self, key: str) -> Any:
        self._forget_expired()
        entry = self._entries.get(key)
        return json.loads(entry[1]) if entry else None

    async def put(self, key: str, value: Any) -> None:
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + self.ttl, json.dumps(value, ensure_ascii=False))
        self._forget_expired()

    async def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    async def remember_first_time(self, key: str) -> bool:
        if await self.get(key) is not None:
            return False
        await self.put(key, True)
        return True

    def _forget_expired(self) -> None:
        # All entries share one ttl, so insertion order is expiry order.
        now = self._clock()
        while self._entries and (
            next(iter(self._entries.values()))[0] <= now or len(self._entries) > self._max_entries
        ):
            self._entries.popitem(last=False)


class MemoryRateLimit:
    """At most ``limit`` calls per key in a sliding window of ``window`` seconds, in this process."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._calls = 0

    async def allow(self, key: str) -> bool:
        now = self._clock()
        self._prune_now_and_then(now)
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def _prune_now_and_then(self, now: float) -> None:
        self._calls += 1
        if self._calls % _PRUNE_EVERY:
            return
        horizon = self.window * _FORGET_AFTER_WINDOWS
        for key in [k for k, times in self._seen.items() if not times or now - times[-1] > horizon]:
            del self._seen[key]


class MemorySharedState:
    """Today's per-process state: each map and limit belongs to the one object that asked for it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = MEMORY_MAX_ENTRIES) -> None:
        self._clock = clock
        self._max_entries = max_entries

    def expiring_values(self, name: str, ttl: float) -> MemoryValues:
        return MemoryValues(ttl, self._max_entries, self._clock)

    def rate_limit(self, name: str, limit: int, window: float) -> MemoryRateLimit:
        return MemoryRateLimit(limit, window, self._clock)


# --- Redis: every instance -----------------------------------------------------------

# KEYS[1]: the sender's window, a sorted set of the times of allowed calls.
# ARGV: now, now - window (times at or before it have left the window), limit,
# a unique member for this call, the window in milliseconds. Returns 1 (allowed) or 0.
# Both times come as Python wrote them: Lua would round a number it formats.
SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


@dataclass(frozen=True)
class RedisSettings:
    host: str = PRODUCTION_ENV_DEFAULTS["REDIS_HOST"]
    port: int = int(PRODUCTION_ENV_DEFAULTS["REDIS_PORT"])
    db: int = int(PRODUCTION_ENV_DEFAULTS["REDIS_DB"])
    password: str = PRODUCTION_ENV_DEFAULTS["REDIS_PASSWORD"]
    key_prefix: str = PRODUCTION_ENV_DEFAULTS["REDIS_KEY_PREFIX"]

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> RedisSettings:
        """The REDIS_ variables (the lock store's); the production defaults where one is unset or empty."""
        environ = os.environ if environ is None else environ

        def read(name: str) -> str:
            return environ.get(name) or PRODUCTION_ENV_DEFAULTS[name]

        def number(name: str) -> int:
            try:
                return int(read(name))
            except ValueError:
                raise ValueError(f"{name}={read(name)!r} is not a number") from None

        return cls(
            host=read("REDIS_HOST"),
            port=number("REDIS_PORT"),
            db=number("REDIS_DB"),
            password=environ.get("REDIS_PASSWORD", ""),
            key_prefix=read("REDIS_KEY_PREFIX"),
        )

    @property
    def url(self) -> str:
        """redis://[:password@]host:port/db"""
        password = f":{quote(self.password, safe='')}@" if self.password else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis://{password}{host}:{self.port}/{self.db}"

    @property
    def address(self) -> str:
        """Where Redis is, for logs: never the password."""
        return f"{self.host}:{self.port}/{self.db}"

    def key(self, *parts: str) -> str:
        return ":".join((self.key_prefix, *parts))


# What a Redis operation raises when Redis cannot be reached or does not answer in time.
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class Outage:
    """Follows a Redis's failures: one warning when it goes away, one line when it is back.

    After each failure ``waiting()`` is true for ``retry_after`` seconds: the
    caller does without Redis instead of waiting for it again on every message.
    """

    def __init__(
        self,
        subject: str,
        consequences: str,
        retry_after: float = RETRY_AFTER,
        log: logging.Logger = logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._subject = subject
        self._consequences = consequences
        self._retry_after = retry_after
        self._log = log
        self._clock = clock
        self._down = False
        self._retry_at = 0.0

    def waiting(self) -> bool:
        return self._clock() < self._retry_at

    def failed(self, error: BaseException) -> None:
        self._retry_at = self._clock() + self._retry_after
        if not self._down:
            self._down = True
            self._log.warning(
                "%s is unreachable (%s: %s). Until it is back, %s.",
                self._subject,
                type(error).__name__,
                error,
                self._consequences,
            )

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            self._log.info("%s is reachable again.", self._subject)


class RedisSharedState:
    """State in one Redis that every instance uses; each operation one round trip, failing open."""

    def __init__(
        self,
        settings: RedisSettings,
        clock: Callable[[], float] = time.time,
        socket_timeout: float = SOCKET_TIMEOUT,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self.settings = settings
        # Windows are judged by this machine's wall clock (instances agree on it through
        # NTP), as the lock store judges its tickets.
        self._clock = clock
        self.redis = Redis.from_url(settings.url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout)
        # EVALSHA, and the script is loaded again after a Redis restart or SCRIPT FLUSH.
        self.sliding_window = self.redis.register_script(SLIDING_WINDOW)
        self._outage = Outage(
            f"Shared state: Redis at {settings.address}",
            "every message is let through: no rate limit, a WeChat retry may be answered again, "
            "numbered choices are not remembered",
            retry_after,
        )

    def expiring_values(self, name: str, ttl: float) -> RedisValues:
        return RedisValues(self, name, ttl)

    def rate_limit(self, name: str, limit: int, window: float) -> RedisRateLimit:
        return RedisRateLimit(self, name, limit, window)

    def now(self) -> float:
        return self._clock()

    async def call(self, operation: Callable[[], Awaitable[T]], fallback: T) -> T:
        """``operation``'s result, or ``fallback`` while Redis cannot be reached."""
        if self._outage.waiting():
            return fallback
        try:
            result = await operation()
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return fallback
        self._outage.succeeded()
        return result

    async def close(self) -> None:
        await self.redis.close()


class RedisValues:
    def __init__(self, state: RedisSharedState, name: str, ttl: float) -> None:
        self._state = state
        self._name = name
        self._ttl_ms = max(1, math.ceil(ttl * 1000))

    async def get(self, key: str) -> Any:
        raw = await self._state.call(lambda: self._state.redis.get(self._key(key)), None)
        try:
            return None if raw is None else json.loads(raw)
        except ValueError:  # not written by us: another program's key under our prefix
            logger.warning("Shared state: %s is not JSON; read as nothing.", self._key(key))
            return None

    async def put(self, key: str, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False)
        await self._state.call(lambda: self._state.redis.set(self._key(key), text, px=self._ttl_ms), None)

    async def forget(self, key: str) -> None:
        await self._state.call(lambda: self._state.redis.delete(self._key(key)), None)

    async def remember_first_time(self, key: str) -> bool:
        # SET NX: of two instances receiving the same key at once, exactly one sets it.
        was_set = await self._state.call(
            lambda: self._state.redis.set(self._key(key), "true", nx=True, px=self._ttl_ms), True
        )
        return bool(was_set)

    def _key(self, key: str) -> str:
        return self._state.settings.key(self._name, key)


class RedisRateLimit:
    def __init__(self, state: RedisSharedState, name: str, limit: int, window: float) -> None:
        self._state = state
        self._name = name
        self.limit = limit
        self.window = window

    async def allow(self, key: str) -> bool:
        now = self._state.now()
        arguments = [repr(now), repr(now - self.window), self.limit, f"{now!r}:{uuid.uuid4().hex}"]
        arguments.append(max(1, math.ceil(self.window * 1000)))
        keys = [self._state.settings.key(self._name, key)]
        allowed = await self._state.call(lambda: self._state.sliding_window(keys=keys, args=arguments), 1)
        return bool(allowed)


# --- the process's shared state, from the environment ------------------------------------


def backend_name(environ: Optional[Mapping[str, str]] = None) -> str:
    """``SHARED_STATE``: memory (unset) or redis."""
    value = (os.environ if environ is None else environ).get("SHARED_STATE", "").strip().lower() or MEMORY
    if value not in (MEMORY, REDIS):
        raise ValueError(f"SHARED_STATE={value!r}: use {MEMORY!r} or {REDIS!r}")
    return value


def shared_redis(environ: Optional[Mapping[str, str]] = None) -> Optional[RedisSettings]:
    """Where the shared state lives with ``SHARED_STATE=redis``; None when each process keeps its own."""
    return RedisSettings.from_env(environ) if backend_name(environ) == REDIS else None


@functools.cache
def shared_state() -> SharedState:
    """This process's shared state, from the environment."""
    settings = shared_redis()
    if settings is None:
        return MemorySharedState()
    logger.info("Shared state in Redis at %s, keys under %s:", settings.address, settings.key_prefix)
    return RedisSharedState(settings)
