"""The action server with operator endpoints: ``python -m bot.action_server --actions actions --port 5055``.

The same server ``rasa run actions --actions actions`` starts (rasa_sdk's
app, run by rasa_sdk's own ``main_from_args``, same flags), plus:

- ``/metrics``: this process's Prometheus metrics (bot/metrics.py): handoffs,
  tickets, priority complaints, and ``triage_action_server_errors_total``
  (actions that raised);
- ``/health/live`` (rasa_sdk's own ``/health`` stays) and ``/health/ready``:
  200 when the service database (tickets, orders; ``DATABASE_URL``) answers,
  else 503 (bot/health.py).

They are added through rasa_sdk's extension hook
(``attach_sanic_app_extensions``, which ``rasa_sdk.endpoint.run`` calls with
the app it built), so the app is rasa_sdk's own, unchanged. Counts are per
process: keep the default of one Sanic worker (``ACTION_SERVER_SANIC_WORKERS``).
"""

from __future__ import annotations

import functools
import json
import logging
import zlib
from typing import Optional

import pluggy
import rasa_sdk.__main__
import sqlalchemy as sa
from rasa_sdk.endpoint import create_argument_parser
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import health, metrics
from bot.stores.database import shared_engine

logger = logging.getLogger(__name__)

DEFAULT_ACTIONS_PACKAGE = "actions"  # as `rasa run actions`
WEBHOOK = "/webhook"
hookimpl = pluggy.HookimplMarker("rasa_sdk")


class OperationsPlugin:
    """rasa_sdk plugin: the operator endpoints and the count of failed actions on rasa_sdk's app."""

    def __init__(self, actions_package: str) -> None:
        self.actions_package = actions_package

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        add_operations(app, self.actions_package)


def add_operations(app: Sanic, actions_package: str) -> None:
    metrics.start_action_server_series()

    @app.get("/metrics")
    async def metrics_endpoint(request: Request) -> HTTPResponse:
        return metrics.metrics_response(request)

    @app.get("/health/live")
    async def live(_: Request) -> HTTPResponse:
        return health.liveness_response()

    @app.get("/health/ready")
    async def ready(_: Request) -> HTTPResponse:
        return await health.guarded_readiness(readiness_checks)

    # Sanic's hook for an exception a handler raised; the response cannot tell:
    # rasa_sdk answers a failed action 500, but 400 when Rasa deflated the call.
    @app.signal("http.lifecycle.exception")
    async def count_failed_action(request: Request, exception: BaseException) -> None:
        if request.path == WEBHOOK and not is_client_error(exception):
            metrics.ACTION_SERVER_ERRORS.labels(action_label(request, actions_package)).inc()


async def readiness_checks() -> dict[str, str]:
    """The actions' database (tickets, orders) answers a trivial query."""

    def select_one() -> None:
        with shared_engine().connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    return {"service_database": await health.in_thread("service database", select_one)}


def is_client_error(exception: BaseException) -> bool:
    """A request the webhook could not read (bad JSON): the caller's error, no action ran."""
    return isinstance(exception, SanicException) and exception.status_code < 500


def action_label(request: Request, actions_package: str) -> str:
    """The called action's name if it is one of ours, else ``other``: the label stays a small set."""
    name = _called_action(request)
    return name if name in registered_actions(actions_package) else metrics.OTHER


def _called_action(request: Request) -> Optional[str]:
    # Rasa may deflate the body (rasa_sdk's webhook reads it the same way).
    try:
        body = request.body or b""
        if request.headers.get("Content-Encoding") == "deflate":
            body = zlib.decompress(body)
        name = json.loads(body).get("next_action")
    except (ValueError, zlib.error, AttributeError):
        return None
    return name if isinstance(name, str) else None


@functools.cache
def registered_actions(actions_package: str) -> frozenset[str]:
    executor = ActionExecutor()
    executor.register_package(actions_package)
    return frozenset(executor.actions)


def main(argv: Optional[list[str]] = None) -> None:
    args = create_argument_parser().parse_args(argv)
    args.actions = args.actions or DEFAULT_ACTIONS_PACKAGE
    plugin_manager().register(OperationsPlugin(args.actions))
    rasa_sdk.__main__.main_from_args(args)


if __name__ == "__main__":
    main()
