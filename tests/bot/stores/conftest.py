"""Store tests run on both databases: an SQLite file and a fresh PostgreSQL database.

PostgreSQL is the one several action servers share, so it is not optional in
CI: with ``REQUIRE_POSTGRES`` set, an unreachable server fails the tests
instead of skipping them. ``TEST_POSTGRES_URL`` points at another server.
"""
from __future__ import annotations

import os
import uuid
from typing import Iterator

import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy.engine import Engine, make_url

from bot.stores.database import create_engine_for

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:
    """The URL of an empty database, dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
    else:
        yield from _temporary_postgres_database()


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


def _temporary_postgres_database() -> Iterator[str]:
    admin = _connect_admin()
    name = f"stores_test_{uuid.uuid4().hex[:16]}"
    try:
        _run(admin, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE (PostgreSQL 13+) ends connections a failed test left open.
        force = sql.SQL(" WITH (FORCE)") if admin.server_version >= 130000 else sql.SQL("")
        _run(admin, sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)
        admin.close()


def _connect_admin():
    try:
        connection = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=5)
    except psycopg2.OperationalError as error:
        reason = f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {str(error).strip()}"
        if os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0"):
            pytest.fail(f"{reason} (REQUIRE_POSTGRES is set)", pytrace=False)
        pytest.skip(f"{reason}; set REQUIRE_POSTGRES=1 to fail instead of skipping")
    # CREATE/DROP DATABASE cannot run inside a transaction.
    connection.autocommit = True
    return connection


def _run(connection, statement: sql.Composable) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)
