"""Patch: calls to an endpoint (the action server) reuse their connections.

Replaces: ``rasa.utils.endpoints.EndpointConfig.session``.

Why: ``EndpointConfig.request``, which makes every custom action call, opens
a new aiohttp ``ClientSession`` per request (``async with self.session()``)
and closes it afterwards: a new TCP connection for every action call, on the
Rasa side and the action server's. Here ``session()`` hands out one session
per endpoint and event loop, with Rasa's headers, authentication and timeout,
which stays open after the ``async with`` so its connections are kept alive
between calls. Idle connections are dropped after ``KEEPALIVE_SECONDS``,
less than the 5 s after which Sanic (the action server) closes them, so a
request never goes out on a connection the server is closing. No connection
limit, as with a session per request. A session whose event loop has ended
(a test or a script running several loops) is closed and replaced.

Measured: a call to the action server took 0.67-0.78 ms of the caller's CPU
and 0.92-1.05 ms in all with a session per request, 0.29-0.32 ms and
0.48-0.57 ms with kept-alive connections (``/health``, in process);
``make profile`` showed a new connection per action call (aiohttp's connect,
the session's set-up and closing) at about 2% of a loaded Rasa server's
samples. Tested: whole conversations answered and stored as with Rasa's
session, one connection for many calls, a call after the idle time, error
answers raised as Rasa raises them (tests/bot/test_perf_patches.py).
"""

from __future__ import annotations

import asyncio
import atexit
import weakref
from typing import Any

import aiohttp

from bot.rasa_compat.patch import Patch

# Kept-alive connections idle longer than this are closed by the client
# (Sanic's KEEP_ALIVE_TIMEOUT is 5 s).
KEEPALIVE_SECONDS = 2.0
# id(EndpointConfig) -> (a weak reference to it, the loop, its session on that loop). Kept
# outside the EndpointConfig, which Rasa may copy.
_KEPT: dict[int, tuple[weakref.ref, asyncio.AbstractEventLoop, aiohttp.ClientSession]] = {}


class KeptSession:
    """What ``EndpointConfig.session()`` returns: ``async with`` gives the endpoint's shared session and
    leaves it open; any other use goes to that session."""

    def __init__(self, endpoint: Any) -> None:
        self._endpoint = endpoint

    async def __aenter__(self) -> aiohttp.ClientSession:
        return shared_session(self._endpoint)

    async def __aexit__(self, *exc_info: Any) -> None:
        return None  # kept open for the next request

    def __getattr__(self, name: str) -> Any:
        return getattr(shared_session(self._endpoint), name)


def kept_session(self: Any) -> KeptSession:
    """``EndpointConfig.session``: the endpoint's session, kept open between requests."""
    return KeptSession(self)


def shared_session(endpoint: Any) -> aiohttp.ClientSession:
    """The endpoint's session on the running loop, made on first use (Rasa's settings, kept-alive connections)."""
    loop = asyncio.get_running_loop()
    kept = _KEPT.get(id(endpoint))
    if kept is not None and kept[0]() is endpoint and kept[1] is loop and not kept[2].closed:
        return kept[2]
    if kept is not None:
        _close_on_its_own_loop(kept[1], kept[2])
    rasas: aiohttp.ClientSession = PATCH.original()(endpoint)  # Rasa's headers, auth and timeout
    session = aiohttp.ClientSession(
        headers=rasas.headers,
        auth=rasas.auth,
        timeout=rasas.timeout,
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_SECONDS),
    )
    _close_now(rasas)
    key = id(endpoint)
    _KEPT[key] = (weakref.ref(endpoint, lambda _: _forget(key)), loop, session)
    return session


def _forget(key: int) -> None:
    kept = _KEPT.pop(key, None)
    if kept is not None:
        _close_on_its_own_loop(kept[1], kept[2])


def _close_on_its_own_loop(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
    if loop.is_closed() or not loop.is_running():
        _close_now(session)
    else:
        asyncio.run_coroutine_threadsafe(session.close(), loop)


@atexit.register
def _close_all() -> None:
    """At exit, close what is kept (no "Unclosed client session" in the server's last lines)."""
    for _, _, session in list(_KEPT.values()):
        _close_now(session)
    _KEPT.clear()


def _close_now(session: aiohttp.ClientSession) -> None:
    """Close a session without its (unused or ended) event loop: its connector's sockets go at once."""
    connector = session.connector
    if connector is not None and not connector.closed:
        connector._close()


PATCH = Patch(
    module="rasa.utils.endpoints",
    owner="EndpointConfig",
    attribute="session",
    replacement=kept_session,
    upstream_sha256="e55aa13d9d4fb4bc440ac33b870a97ee162b76dda7ccb6bf68433567475fdffb",
)
