"""Readiness and liveness answers, shared by the Rasa servers and the action server.

``/health/live`` says the process serves HTTP; ``/health/ready`` says whether
it can do its work: each part (model, stores) is checked and the answer is
200 only when all are ``ok``, else 503 naming the parts that are not. A check
that touches the network runs in a thread and is given ``CHECK_TIMEOUT_SECONDS``:
a database that does not answer makes the probe say so, never hang. While such
a check still hangs, later probes wait for the same one instead of starting
more threads. The answer says which part failed and how (the exception's
class), not its message: it is served without authentication, and driver
messages name hosts and users. The full error goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Optional

from sanic import response
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
OK = "ok"

# (event loop, what is checked) -> the thread still running that check.
_running: dict[tuple[int, Hashable], asyncio.Future] = {}


async def in_thread(
    name: str, check: Callable[[], Any], subject: Hashable = None, timeout: float = CHECK_TIMEOUT_SECONDS
) -> str:
    """Run the blocking ``check`` of ``subject`` (default: ``name``) in a thread.

    OK, or what went wrong (``timeout``, an exception's class).
    """
    loop = asyncio.get_running_loop()
    key = (id(loop), name if subject is None else subject)
    running = _running.get(key)
    if running is None or running.done():
        running = _running[key] = loop.run_in_executor(None, check)
        # A check that fails after its probe gave up is not news: no "never retrieved" in the log.
        running.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await _outcome(name, asyncio.shield(running), timeout)


async def inline(name: str, check: Callable[[], Any]) -> str:
    """Run a check that cannot hang (a local file) on the event loop: OK, or the exception's class."""

    async def run() -> Any:
        return check()

    return await _outcome(name, run(), None)


async def _outcome(name: str, pending: Awaitable[Any], timeout: Optional[float]) -> str:
    try:
        await asyncio.wait_for(pending, timeout)
    except asyncio.TimeoutError:
        logger.warning("Readiness: %s did not answer within %.1f s.", name, timeout or 0)
        return "timeout"
    except Exception as error:
        logger.warning("Readiness: %s failed: %s", name, error)
        return f"error: {type(error).__name__}"
    return OK


def readiness_response(checks: Mapping[str, str]) -> HTTPResponse:
    """200 ``{"ready": true, "checks": {...}}`` when every check is OK, else 503 with the same shape."""
    ready = all(outcome == OK for outcome in checks.values())
    return response.json({"ready": ready, "checks": dict(checks)}, status=200 if ready else 503)


def liveness_response() -> HTTPResponse:
    return response.json({"live": True})


async def guarded_readiness(check_all: Callable[[], Awaitable[Mapping[str, str]]]) -> HTTPResponse:
    """The readiness answer; a bug in a check is a 503 saying so, never a 500."""
    try:
        return readiness_response(await check_all())
    except Exception:
        logger.exception("Readiness check failed.")
        return response.json({"ready": False, "checks": {"readiness": "error"}}, status=503)
