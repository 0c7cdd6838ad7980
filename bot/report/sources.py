"""Where the report reads from: the tracker store and the service database.

By default the same stores the bot writes to: the tracker store configured
in endpoints.yml (embedded profile: the SQLite file ``.data/tracker.db``) or
endpoints.production.yml (PostgreSQL from the ``POSTGRES_*`` variables, with
the defaults of bot/settings.py, as the launcher gives them), and the service
database of ``DATABASE_URL``. In the production profile the service database
defaults to that PostgreSQL too, as bot/launcher/ does for the action server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa
import yaml

from bot.settings import ROOT, endpoints_file, profile_environment
from bot.stores.database import database_url, normalize_url

_ENV_REFERENCE = re.compile(r"\$\{(\w+)\}")


def tracker_store_url(given: Optional[str], profile: str) -> str:
    """``--tracker-db`` as a URL (a plain path is an SQLite file), else the profile's."""
    if given:
        return normalize_url(_as_url(given))
    endpoints = yaml.safe_load(endpoints_file(profile).read_text(encoding="utf-8"))
    return configured_tracker_url(_substituted(endpoints["tracker_store"], profile_environment(profile)))


def service_database_url(given: Optional[str], profile: str) -> str:
    if given:
        return normalize_url(_as_url(given))
    if profile == "production" and not os.environ.get("DATABASE_URL"):
        return configured_tracker_url(_production_postgres_settings())
    return normalize_url(database_url())


def configured_tracker_url(settings: Mapping[str, Any]) -> str:
    """The SQLAlchemy URL of a ``tracker_store`` block, as Rasa's SQLTrackerStore builds it."""
    dialect = settings.get("dialect", "sqlite")
    host = settings.get("url") or None
    if host and "://" in host:
        return host
    if dialect == "sqlite":
        # Rasa opens a relative path from its working directory: the repo root.
        return f"sqlite:///{_in_repo(settings.get('db', 'rasa.db'))}"
    url = sa.engine.URL.create(
        dialect,
        username=settings.get("username") or None,
        password=settings.get("password") or None,
        host=host,
        port=int(settings["port"]) if settings.get("port") else None,
        database=settings.get("db"),
    )
    return url.render_as_string(hide_password=False)


def printable_url(url: str) -> str:
    """The URL for people to read: without its password."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Optional[Path]:
    """The file of an SQLite URL (None for other databases and memory)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _production_postgres_settings() -> dict[str, Any]:
    env = profile_environment("production")
    return {
        "dialect": "postgresql",
        "url": env["POSTGRES_HOST"],
        "port": env["POSTGRES_PORT"],
        "db": env["POSTGRES_DB"],
        "username": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"],
    }


def _substituted(settings: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    # Rasa fills ${VAR} from the environment when it reads the endpoints file.
    return {
        key: _ENV_REFERENCE.sub(lambda match: env.get(match.group(1), ""), value) if isinstance(value, str) else value
        for key, value in settings.items()
    }


def _as_url(given: str) -> str:
    return given if "://" in given else f"sqlite:///{Path(given).resolve()}"


def _in_repo(path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else ROOT / candidate
