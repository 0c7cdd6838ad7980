"""The agent desk's tests: a bot with the desk configured (two agents), an agent's HTTP client, the users' channels.

The desk bot is the whole bot under supervisord (action server, Rasa, the web
server with the desk) on ports of its own, its clock pinned to a weekday
morning, its WeChat channel on the session's fake WeChat API.
"""
from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import uuid
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
import sqlalchemy as sa

from bot.desk.accounts import hash_password
from tests.conftest import SHANGHAI_DAYTIME, WECHAT_ENV

PASSWORDS = {"wang": "wang-password-1", "li": "li-password-22", "zhao": "zhao-password-333"}
NAMES = {"wang": "小王", "li": "小李", "zhao": "小赵"}
# Hashed once per test run, as an operator's DESK_AGENTS would hold them.
AGENTS_YAML = json.dumps({"agents": [
    {"id": agent_id, "name": NAMES[agent_id], "password_hash": hash_password(password)}
    for agent_id, password in PASSWORDS.items()
]}, ensure_ascii=False)
DESK_PORTS = {
    "rasa": int(os.environ.get("TEST_DESK_RASA_PORT", 5305)),
    "actions": int(os.environ.get("TEST_DESK_ACTIONS_PORT", 5355)),
    "web": int(os.environ.get("TEST_DESK_WEB_PORT", 5380)),
}
WAIT_SECONDS = 20
# The desk bot's Chatwoot connector talks to a local stand-in (tests/channels/fake_chatwoot.py).
CHATWOOT_PORT = int(os.environ.get("TEST_CHATWOOT_PORT", 5391))
CHATWOOT_ENV = {"CHATWOOT_URL": f"http://127.0.0.1:{CHATWOOT_PORT}", "CHATWOOT_BOT_TOKEN": "chatwoot-bot-token",
                "CHATWOOT_WEBHOOK_TOKEN": "chatwoot-webhook-secret"}


def desk_env(service_db: str) -> Dict[str, str]:
    return {"BOT_NOW": SHANGHAI_DAYTIME, "DATABASE_URL": service_db, **WECHAT_ENV, **CHATWOOT_ENV,
            "DESK_AGENTS": AGENTS_YAML, "DESK_SWEEP_SECONDS": "1", "DESK_POLL_SECONDS": "0.5"}


@pytest.fixture(scope="session")
def chatwoot():
    from tests.channels.fake_chatwoot import FakeChatwoot

    with FakeChatwoot(port=CHATWOOT_PORT, bot_token=CHATWOOT_ENV["CHATWOOT_BOT_TOKEN"]) as fake:
        yield fake


@pytest.fixture(scope="session")
def desk_bot(trained_model, tmp_path_factory, wechat_api, chatwoot):
    from bot.launcher import BotServers

    scratch = tmp_path_factory.mktemp("desk-bot")
    service_db = f"sqlite:///{scratch / 'service.db'}"
    servers = BotServers(
        model=trained_model, rasa_port=DESK_PORTS["rasa"], actions_port=DESK_PORTS["actions"],
        web_port=DESK_PORTS["web"], tracker_db=scratch / "tracker.db", log_dir=scratch / "logs",
        extra_env={**desk_env(service_db), "DESK_AGENTS_FILE": str(scratch / "no-agents-file.yml")},
    )
    servers.service_db_url = service_db
    servers.wechat_api = wechat_api
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def service_db(desk_bot):
    """The desk bot's service database, for what only a test does (age a ticket, empty the queue)."""
    engine = sa.create_engine(desk_bot.service_db_url, future=True)
    yield engine
    engine.dispose()


@pytest.fixture
def empty_queue(service_db):
    """Every waiting conversation of earlier tests leaves the queue, as if handled."""
    with service_db.begin() as connection:
        connection.execute(sa.text(
            "UPDATE service_tickets SET status = 'closed' WHERE status = 'open' AND kind IN ('handoff', 'message')"
        ))


# --- the agent's side ---------------------------------------------------------------------


class DeskClient:
    """An agent's browser, as far as the HTTP API goes: the session cookie and the page's CSRF token."""

    def __init__(self, web_url: str, agent_id: str) -> None:
        self.base = f"{web_url}/agent"
        self.agent_id = agent_id
        self.http = requests.Session()
        self.csrf = ""

    def login(self, password: Optional[str] = None) -> "DeskClient":
        answer = self.http.post(f"{self.base}/login", data={"id": self.agent_id,
                                                           "password": password or PASSWORDS[self.agent_id]},
                                allow_redirects=False, timeout=30)
        assert answer.status_code == 303, answer.text
        page = self.http.get(f"{self.base}/", timeout=30)
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        return self

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(f"{self.base}/api/{path}", timeout=30, **kwargs)

    def post(self, path: str, body: Optional[Dict[str, Any]] = None, **kwargs: Any) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.http.post(f"{self.base}/api/{path}", json=body, headers=headers, timeout=30, **kwargs)

    def queue(self) -> Dict[str, Any]:
        answer = self.get("queue")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def waiting(self, sender_ticket: str) -> Optional[Dict[str, Any]]:
        return next((entry for entry in self.queue()["queue"] if entry["number"] == sender_ticket), None)

    def claim(self, number: str) -> requests.Response:
        return self.post(f"conversations/{number}/claim")

    def say(self, number: str, text: str) -> requests.Response:
        return self.post(f"conversations/{number}/messages", {"text": text})

    def close(self, number: str) -> requests.Response:
        return self.post(f"conversations/{number}/close")

    def conversation(self, number: str) -> Dict[str, Any]:
        answer = self.get(f"conversations/{number}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def events(self, after: int = 0) -> Iterator[tuple]:
        """The live event stream, as (event name, payload) pairs."""
        with self.http.get(f"{self.base}/api/events", params={"after": after}, stream=True, timeout=30) as stream:
            assert stream.status_code == 200
            name, pending = None, b""
            for chunk in stream.iter_content(chunk_size=None):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in (raw.decode("utf-8") for raw in lines):
                    if line.startswith("event: "):
                        name = line[len("event: "):]
                    elif line.startswith("data: ") and name:
                        yield name, json.loads(line[len("data: "):])
                        name = None


@pytest.fixture
def wang(desk_bot) -> DeskClient:
    return DeskClient(desk_bot.web_url, "wang").login()


@pytest.fixture
def li(desk_bot) -> DeskClient:
    return DeskClient(desk_bot.web_url, "li").login()


# --- the users' side ------------------------------------------------------------------------


def new_sender(prefix: str = "desk") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def rest_say(bot, sender: str, text: str) -> List[Dict[str, Any]]:
    answer = requests.post(f"{bot.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def tracker(bot, sender: str) -> Dict[str, Any]:
    answer = requests.get(f"{bot.url}/conversations/{urllib.parse.quote(sender, safe='')}/tracker", timeout=30)
    assert answer.status_code == 200
    return answer.json()


def bot_texts(bot, sender: str) -> List[str]:
    return [event.get("text") or "" for event in tracker(bot, sender)["events"] if event["event"] == "bot"]


def ticket_in(messages: List[Dict[str, Any]]) -> str:
    for message in messages:
        found = re.search(r"T\d{8}-\d{4}", message.get("text") or "")
        if found:
            return found.group(0)
    raise AssertionError(f"no ticket number in {messages}")


def wait_until(condition, timeout: float = WAIT_SECONDS, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)
