"""Where the project is, and the settings operators give through the environment.

The one place for the repository root, the files Rasa is started with, and
the environment defaults of the servers; :func:`env_number` reads a number
the same way everywhere. Imports nothing of ``bot``: every layer may use it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional, TypeVar, overload

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".data"  # SQLite files of the embedded profile
MODEL = ROOT / "models" / "triage.tar.gz"
CREDENTIALS = ROOT / "credentials.yml"
EMBEDDED_ENDPOINTS = ROOT / "endpoints.yml"
PRODUCTION_ENDPOINTS = ROOT / "endpoints.production.yml"
# The agent desk's accounts (bot/desk/accounts.py), unless DESK_AGENTS_FILE names another file.
DEFAULT_DESK_AGENTS_FILE = DATA_DIR / "desk_agents.yml"

# Defaults for the servers' environment (the caller's environment wins).
# The channels need none: the WeChat channel reads its WECHAT_ variables
# itself and refuses every request while WECHAT_TOKEN is unset.
CHANNEL_ENV_DEFAULTS = {
    # Bodies over 1 MB get a 413 before Sanic reads them.
    "SANIC_REQUEST_MAX_SIZE": "1048576",
}
# The production profile's services (endpoints.production.yml): defaults that
# fit a machine running them locally; the caller's environment wins.
PRODUCTION_ENV_DEFAULTS = {
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_DB": "triage",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
    "POSTGRES_LOGIN_DB": "postgres",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_DB": "1",
    "REDIS_PASSWORD": "",
    "REDIS_KEY_PREFIX": "triage",
    # Rate limits, WeChat MsgIds seen, numbered choices and socket.io rooms in
    # that Redis, for every instance (bot/stores/shared_state.py); unset: memory.
    "SHARED_STATE": "redis",
    "RABBITMQ_HOST": "127.0.0.1",
    "RABBITMQ_PORT": "5672",
    "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest",
    "RABBITMQ_QUEUE": "triage_events",
    # A conversation's lock outlives an instance that dies while answering:
    # its next message waits this long, not Rasa's 60 s. Still well above
    # the slowest message (a few action calls of at most ACTION_TIMEOUT_SECONDS).
    "TICKET_LOCK_LIFETIME": "20",
}


def desk_agents_file() -> Path:
    """The agent desk's accounts file: ``DESK_AGENTS_FILE``, else ``.data/desk_agents.yml``."""
    return Path(os.environ.get("DESK_AGENTS_FILE") or DEFAULT_DESK_AGENTS_FILE)


def desk_enabled() -> bool:
    """Agents are configured (``DESK_AGENTS`` or the accounts file): a person answers in the chat itself."""
    return bool(os.environ.get("DESK_AGENTS", "").strip()) or desk_agents_file().is_file()


def endpoints_file(profile: str) -> Path:
    """endpoints.production.yml for the production profile, else endpoints.yml."""
    return PRODUCTION_ENDPOINTS if profile == "production" else EMBEDDED_ENDPOINTS


def profile_env_defaults(profile: str) -> dict[str, str]:
    """The environment defaults of ``profile``'s services (none for the embedded profile)."""
    return dict(PRODUCTION_ENV_DEFAULTS) if profile == "production" else {}


def profile_environment(profile: str, environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The variables the bot's servers see in ``profile``: its defaults, then ``environ`` (default: ours)."""
    return {**profile_env_defaults(profile), **(os.environ if environ is None else environ)}


Number = TypeVar("Number", int, float)


@overload
def env_number(name: str, default: Number, kind: Callable[[str], Number], positive: bool = True) -> Number: ...


@overload
def env_number(name: str, default: float, *, positive: bool = True) -> float: ...


def env_number(name: str, default: Any, kind: Callable[[str], Any] = float, positive: bool = True) -> Any:
    """``name`` from the environment as a number.

    ``default`` when unset, unreadable or (if ``positive``) not above 0.
    """
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        logger.warning("%s=%r is not a number; using %s", name, raw, default)
        return default
    return value if value > 0 or not positive else default
