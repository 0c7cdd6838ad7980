"""The Rasa server's operator endpoints: ``/metrics``, ``/health/live``, ``/health/ready``.

Configured in credentials.yml as ``bot.channels.operations.OperationsInput``.
Rasa mounts each input channel's blueprint at ``/webhooks/<url_prefix>``
(``rasa.core.channels.channel.register``); this channel's prefix is ``/``, so
its routes are at the server's root, where monitoring expects them, in every
way Rasa is started with our credentials (``make run``, ``make cluster``,
plain ``rasa run``). It takes no user messages. The other ways to add a route
to ``rasa run`` are worse: Rasa's own server module (``rasa.server.create_app``)
would need a patch, and its plugin hooks are found through an installed
package's entry points, not a module of this repository.

- ``/metrics``: this instance's Prometheus metrics (bot/metrics.py).
- ``/health/live``: 200 while the process serves HTTP.
- ``/health/ready``: 200 when the model is loaded and the tracker and lock
  stores answer (a ``SELECT 1``; a Redis ``PING``), else 503 naming what is
  not ready (bot/health.py).

None of them needs the auth token: in production only the monitoring network
should reach ``/metrics`` (proxy rule or network policy).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.lock_store import RedisLockStore
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import health
from bot.metrics import metrics_response, start_rasa_server_series

NOT_LOADED = "not loaded"


class OperationsInput(InputChannel):
    """Metrics and health checks at the server's root; no messages."""

    @classmethod
    def name(cls) -> str:
        return "operations"

    def url_prefix(self) -> str:
        return "/"  # Rasa joins it to /webhooks/: the routes are at the root

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        start_rasa_server_series()
        operations = Blueprint("operations", __name__)

        @operations.route("/metrics", methods=["GET"])
        async def metrics(request: Request) -> HTTPResponse:
            return metrics_response(request)

        @operations.route("/health/live", methods=["GET"])
        async def live(_: Request) -> HTTPResponse:
            return health.liveness_response()

        @operations.route("/health/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            return await health.guarded_readiness(lambda: readiness_checks(request.app))

        return operations


async def readiness_checks(app: Sanic) -> dict[str, str]:
    """What this Rasa server needs to answer: its model and its stores, each OK or what is wrong."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or not agent.is_ready():
        return {"model": NOT_LOADED}
    return {
        "model": health.OK,
        "tracker_store": await tracker_store_check(agent.tracker_store),
        "lock_store": await lock_store_check(agent.lock_store),
    }


async def tracker_store_check(store: Any) -> str:
    """A trivial query on an SQL tracker store's database; other stores (in memory) have nothing to ask."""
    engine = _sql_engine(store)
    if engine is None:
        return health.OK

    def select_one() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    if engine.dialect.name == "sqlite":
        # One shared connection (CachingSQLTrackerStore): a second thread on it
        # would roll back the event loop's open transaction when it hands it back.
        return await health.inline("tracker store", select_one)
    return await health.in_thread("tracker store", select_one, subject=engine)


async def lock_store_check(store: Any) -> str:
    """PING for a Redis lock store; the in-process lock store has nothing to ask."""
    if not isinstance(store, RedisLockStore):
        return health.OK
    return await health.in_thread("lock store", store.red.ping, subject=store)


def _sql_engine(store: Any) -> Optional[Any]:
    # Rasa wraps the configured store (FailSafeTrackerStore, AwaitableTrackerStore),
    # each keeping it as _tracker_store; the SQL store underneath has the engine.
    for _ in range(5):
        engine = getattr(store, "engine", None)
        if engine is not None:
            return engine
        store = getattr(store, "_tracker_store", None)
        if store is None:
            return None
    return None
