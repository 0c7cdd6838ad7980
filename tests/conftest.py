"""Shared fixtures: the trained model, a running bot, an in-process agent."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from bot.settings import MODEL, ROOT  # noqa: F401 (ROOT: tests import it from here)

SHANGHAI_DAYTIME = "2026-11-25T10:30:00+08:00"
# The browser tests drive Debian's Chromium, never a downloaded one.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The test bot's WeChat channel: its token, and a fake WeChat API
# (tests/channels/fake_wechat_api.py) on a fixed loopback port.
WECHAT_API_PORT = int(os.environ.get("TEST_WECHAT_API_PORT", 5290))
WECHAT_ENV = {
    "WECHAT_TOKEN": "wechat-test-token",
    "WECHAT_APP_ID": "wx-test-app",
    "WECHAT_APP_SECRET": "test-app-secret",
    "WECHAT_API_BASE": f"http://127.0.0.1:{WECHAT_API_PORT}",
}


@pytest.fixture(scope="session")
def trained_model() -> Path:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it first)")
    return MODEL


@pytest.fixture(scope="session")
def wechat_api():
    """The fake WeChat API the test bot sends its slow answers to."""
    from tests.channels.fake_wechat_api import FakeWeChatAPI

    with FakeWeChatAPI(port=WECHAT_API_PORT, app_id=WECHAT_ENV["WECHAT_APP_ID"],
                       app_secret=WECHAT_ENV["WECHAT_APP_SECRET"]) as api:
        yield api


@pytest.fixture(scope="session")
def bot_servers(trained_model, tmp_path_factory, wechat_api):
    """The action server and Rasa server on private ports, clock pinned to daytime."""
    from bot.launcher import BotServers

    scratch = tmp_path_factory.mktemp("bot")
    service_db = f"sqlite:///{scratch / 'service.db'}"
    servers = BotServers(
        model=trained_model,
        rasa_port=int(os.environ.get("TEST_RASA_PORT", 5205)),
        actions_port=int(os.environ.get("TEST_ACTIONS_PORT", 5255)),
        web_port=int(os.environ.get("TEST_WEB_PORT", 5280)),
        tracker_db=scratch / "tracker.db",
        log_dir=scratch / "logs",
        # No agent desk here (tests/desk/ has its own bot with one).
        extra_env={"BOT_NOW": SHANGHAI_DAYTIME, "DATABASE_URL": service_db, **WECHAT_ENV,
                   "DESK_AGENTS": "", "DESK_AGENTS_FILE": str(scratch / "no-desk-agents.yml")},
    )
    servers.service_db_url = service_db
    servers.wechat_api = wechat_api
    servers.wechat_token = WECHAT_ENV["WECHAT_TOKEN"]
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def agent(trained_model, bot_servers):
    """The trained bot in this process (its clock can be frozen), using the test action server."""
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    return Agent.load(
        str(trained_model),
        action_endpoint=EndpointConfig(f"http://127.0.0.1:{bot_servers.actions_port}/webhook"),
        generator=EndpointConfig(type="bot.nlg.ServiceNaturalLanguageGenerator"),
    )


def shanghai(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="session")
def ticket_store(bot_servers):
    """The test bot's tickets and ratings, read back from its database."""
    from bot.stores.database import create_engine_for
    from bot.stores.tickets import TicketStore

    return TicketStore(create_engine_for(bot_servers.service_db_url))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the browser tests (the widget, rasa-webchat, the agent desk)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: `make browser` installs Debian's chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()
