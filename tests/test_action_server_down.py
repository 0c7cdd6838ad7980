"""With the action server down or slow, the user still gets the way to a person, and the bot recovers."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from aiohttp import web

from bot.clock import frozen_at
from tests.conftest import shanghai
from tests.test_conversations import new_sender, say, texts

DAYTIME = shanghai("2026-11-25T10:30:00+08:00")
UNAVAILABLE = "抱歉，系统暂时有点忙，这一步没能办成"


def load_agent(trained_model, action_url):
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    return Agent.load(str(trained_model), action_endpoint=EndpointConfig(action_url),
                      generator=EndpointConfig(type="bot.nlg.ServiceNaturalLanguageGenerator"))


class SilentActionServer:
    """Accepts the call and never answers: an action server that hangs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _hang(self, _request):
        await asyncio.sleep(600)
        return web.json_response({})

    def __enter__(self):
        self._thread.start()
        app = web.Application()
        app.router.add_post("/webhook", self._hang)
        runner = web.AppRunner(app)
        asyncio.run_coroutine_threadsafe(runner.setup(), self._loop).result()
        asyncio.run_coroutine_threadsafe(web.TCPSite(runner, "127.0.0.1", self.port).start(), self._loop).result()
        self._runner = runner
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.mark.asyncio
async def test_unreachable_action_server_the_user_gets_the_way_to_a_person(trained_model):
    agent = load_agent(trained_model, "http://127.0.0.1:9/webhook")
    sender = new_sender()
    with frozen_at(DAYTIME):
        replies = await agent.handle_text("我要退款", sender_id=sender)
        answer = texts(replies)
        assert UNAVAILABLE in answer and "400-8822-528" in answer
        assert answer.count(UNAVAILABLE) == 1
        # The form did not stay open: the next question is answered on its own.
        assert "021-5339-5288" in texts(await agent.handle_text("客服电话多少", sender_id=sender))


@pytest.mark.asyncio
async def test_hanging_action_server_is_given_up_on_within_seconds(trained_model, monkeypatch):
    monkeypatch.setenv("ACTION_TIMEOUT_SECONDS", "1.5")
    with SilentActionServer(port=5299):
        agent = load_agent(trained_model, "http://127.0.0.1:5299/webhook")
        started = time.monotonic()
        with frozen_at(DAYTIME):
            answer = texts(await agent.handle_text("我要退款", sender_id=new_sender()))
        assert time.monotonic() - started < 6
    assert UNAVAILABLE in answer and "400-8822-528" in answer


def test_the_running_bot_recovers_when_the_action_server_is_back(bot_servers):
    sender = new_sender()
    bot_servers.stop_actions()
    try:
        answer = texts(say(bot_servers, "我要退款", sender))
        assert UNAVAILABLE in answer and "400-8822-528" in answer
        assert "400-8822-528" in texts(say(bot_servers, "客服电话多少", sender))
    finally:
        bot_servers.start_actions()
    assert "请把订单编号发给我" in texts(say(bot_servers, "我要退款", sender))
