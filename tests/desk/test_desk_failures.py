"""When Rasa cannot be reached the desk says so (503) and changes nothing: the conversation stays in the queue."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import clock
from bot.desk.app import DeskSettings, add_desk
from bot.services import backends, desk, handoff
from tests.desk.conftest import AGENTS_YAML, PASSWORDS

UNREACHABLE_RASA = "http://127.0.0.1:9"  # the discard port: nothing answers HTTP there
DAYTIME = datetime.fromisoformat("2026-11-25T10:30:00+08:00")


@pytest.fixture
def desk_app(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'service.db'}")
    monkeypatch.setenv("DESK_AGENTS", AGENTS_YAML)
    monkeypatch.setenv("DESK_AGENTS_FILE", str(tmp_path / "none.yml"))
    backends.tickets.cache_clear()
    app = web.Application()
    add_desk(app, DeskSettings(rasa_url=UNREACHABLE_RASA, sweep_seconds=3600))
    with clock.frozen_at(DAYTIME):
        yield app
    backends.tickets.cache_clear()


async def logged_in(client: TestClient) -> str:
    answer = await client.post("/agent/login", data={"id": "wang", "password": PASSWORDS["wang"]},
                               allow_redirects=False)
    assert answer.status == 303
    page = await (await client.get("/agent/")).text()
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.mark.asyncio
async def test_a_claim_while_rasa_is_down_is_a_503_and_the_conversation_stays_waiting(desk_app):
    _, number = handoff.open_handoff("s1", [{"event": "user", "text": "转人工",
                                             "parse_data": {"intent": {"name": "request_human"}}}], None, "rest")
    async with TestClient(TestServer(desk_app)) as client:
        csrf = await logged_in(client)
        claimed = await client.post(f"/agent/api/conversations/{number}/claim", headers={"X-CSRF-Token": csrf})
        assert (claimed.status, await claimed.json()) == (503, {"error": "rasa_unavailable"})
        queue = await (await client.get("/agent/api/queue")).json()

    assert [entry["number"] for entry in queue["queue"]] == [number]
    assert desk.holder(number) is None and desk.ticket(number).status == "open"


@pytest.mark.asyncio
async def test_reading_a_conversation_while_rasa_is_down_is_a_503(desk_app):
    _, number = handoff.open_handoff("s1", [], None, "rest")
    async with TestClient(TestServer(desk_app)) as client:
        await logged_in(client)
        answer = await client.get(f"/agent/api/conversations/{number}")
        assert (answer.status, await answer.json()) == (503, {"error": "rasa_unavailable"})


@pytest.mark.asyncio
async def test_without_agent_accounts_the_login_page_says_how_to_add_one(desk_app, monkeypatch):
    monkeypatch.setenv("DESK_AGENTS", "")
    app = web.Application()
    add_desk(app, DeskSettings(rasa_url=UNREACHABLE_RASA, sweep_seconds=3600))
    async with TestClient(TestServer(app)) as client:
        page = await (await client.get("/agent/login")).text()
        refused = await client.post("/agent/login", data={"id": "wang", "password": PASSWORDS["wang"]},
                                    allow_redirects=False)
    assert "还没有配置客服账号" in page and "python -m bot.desk.accounts add" in page
    assert refused.status == 401


@pytest.mark.asyncio
async def test_an_unreachable_database_is_a_503_not_a_500(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    monkeypatch.setenv("DESK_AGENTS", AGENTS_YAML)
    app = web.Application()
    add_desk(app, DeskSettings(rasa_url=UNREACHABLE_RASA, sweep_seconds=3600))
    async with TestClient(TestServer(app)) as client:
        client.session.cookie_jar.update_cookies({"desk_session": "some-session"})
        answer = await client.get("/agent/api/queue")
        assert (answer.status, await answer.json()) == (503, {"error": "database_unavailable"})
        login = await client.post("/agent/login", data={"id": "wang", "password": PASSWORDS["wang"]},
                                  allow_redirects=False)
        assert login.status == 503
