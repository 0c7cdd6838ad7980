"""By default the report reads the stores the bot writes to, in either profile."""
from __future__ import annotations

import pytest

from bot.settings import ROOT
from bot.report.sources import printable_url, service_database_url, tracker_store_url


@pytest.fixture(autouse=True)
def no_store_variables(monkeypatch):
    for name in ("DATABASE_URL", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_embedded_profile_reads_endpoints_yml_and_database_url():
    assert tracker_store_url(None, "embedded") == f"sqlite:///{ROOT / '.data' / 'tracker.db'}"
    assert service_database_url(None, "embedded") == f"sqlite:///{ROOT / '.data' / 'service.db'}"


def test_production_profile_uses_the_launchers_defaults():
    expected = "postgresql://postgres@127.0.0.1:5432/triage"
    assert tracker_store_url(None, "production") == expected
    assert service_database_url(None, "production") == expected


def test_production_profile_follows_the_environment(monkeypatch):
    monkeypatch.setenv("POSTGRES_HOST", "db.internal")
    monkeypatch.setenv("POSTGRES_PASSWORD", "p@ss:word")
    monkeypatch.setenv("POSTGRES_DB", "bot")
    url = tracker_store_url(None, "production")
    assert url == "postgresql://postgres:p%40ss%3Aword@db.internal:5432/bot"
    assert printable_url(url) == "postgresql://postgres:***@db.internal:5432/bot"
    monkeypatch.setenv("DATABASE_URL", "postgres://tickets@db.internal/service")
    assert service_database_url(None, "production") == "postgresql://tickets@db.internal/service"


def test_options_take_a_url_or_a_path(tmp_path):
    assert tracker_store_url(str(tmp_path / "t.db"), "production") == f"sqlite:///{tmp_path / 't.db'}"
    assert service_database_url("postgresql://x@h/db", "embedded") == "postgresql://x@h/db"
