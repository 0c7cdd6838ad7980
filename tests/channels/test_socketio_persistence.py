"""The socket.io channel with session persistence, through a real python-socketio client.

``Page`` acts as our widget (it shows the other tabs' ``user_uttered``);
``Page(..., shows_user_echo=False)`` as a stock widget such as rasa-webchat,
which shows only ``bot_uttered``.
"""
from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from typing import Any, Dict, List

import pytest
import socketio

from bot.channels.markdown import as_markdown
from bot.channels.socketio import conversation_history
from bot.knowledge import load

ANSWER_WAIT = 20


class Page:
    """One browser tab's socket: what it sends and everything it receives."""

    def __init__(self, url: str, shows_user_echo: bool = True) -> None:
        self.url = url
        self.shows_user_echo = shows_user_echo
        self.client = socketio.AsyncClient(reconnection=False)
        self.bot: asyncio.Queue = asyncio.Queue()
        self.history: asyncio.Queue = asyncio.Queue()
        self.echoes: asyncio.Queue = asyncio.Queue()
        self.session_id: asyncio.Future = asyncio.get_event_loop().create_future()
        self.client.on("bot_uttered", self.bot.put_nowait)
        self.client.on("session_history", self.history.put_nowait)
        self.client.on("user_uttered", self.echoes.put_nowait)
        self.client.on("session_confirm", lambda sid: self.session_id.done() or self.session_id.set_result(sid))

    async def open(self, session_id: str) -> List[Dict[str, Any]]:
        # python-socketio 5.18's websocket client needs a newer aiohttp than Rasa pins.
        await self.client.connect(self.url, transports=["polling"], socketio_path="/socket.io")
        request = {"session_id": session_id, **({"shows_user_echo": True} if self.shows_user_echo else {})}
        await self.client.emit("session_request", request)
        assert await asyncio.wait_for(self.session_id, ANSWER_WAIT) == session_id
        return await asyncio.wait_for(self.history.get(), ANSWER_WAIT)

    async def say(self, text: str, session_id: str) -> None:
        await self.client.emit("user_uttered", {"message": text, "session_id": session_id})

    async def answer(self) -> Dict[str, Any]:
        return await asyncio.wait_for(self.bot.get(), ANSWER_WAIT)

    async def answers_until(self, text: str = "", key: str = "text") -> List[Dict[str, Any]]:
        """The bot messages that arrive until one has ``key`` and contains ``text``."""
        received = [await self.answer()]
        while not (key in received[-1] and text in received[-1].get("text", "")):
            received.append(await self.answer())
        return received

    async def close(self) -> None:
        # A polite polling disconnect waits for the open long-poll (~30 s).
        await self.client.eio.disconnect(abort=True)


@pytest.mark.asyncio
async def test_answers_arrive_and_a_reopened_page_gets_the_conversation_back(bot_servers):
    session = uuid.uuid4().hex
    first = Page(bot_servers.url)
    assert await first.open(session) == []
    await first.say("客服电话多少", session)
    answer = await first.answer()
    assert "400-8822-528" in answer["text"]
    await first.close()

    reopened = Page(bot_servers.url)
    history = await reopened.open(session)
    assert history[0] == {"sender": "user", "text": "客服电话多少"}
    assert history[1]["sender"] == "bot" and "400-8822-528" in history[1]["text"]
    await reopened.close()


@pytest.mark.asyncio
async def test_a_second_tab_sees_the_other_tabs_messages_and_answers(bot_servers):
    session = uuid.uuid4().hex
    tab_a, tab_b = Page(bot_servers.url), Page(bot_servers.url)
    await tab_a.open(session)
    await tab_b.open(session)
    await tab_a.say("人工客服几点下班", session)
    assert (await asyncio.wait_for(tab_b.echoes.get(), ANSWER_WAIT))["text"] == "人工客服几点下班"
    assert "23:00" in (await tab_b.answer())["text"]
    assert "23:00" in (await tab_a.answer())["text"]
    assert tab_a.echoes.empty()  # a tab is not echoed its own message
    await tab_a.close()
    await tab_b.close()


@pytest.mark.asyncio
async def test_a_message_naming_another_session_is_ignored(bot_servers):
    mine, theirs = uuid.uuid4().hex, uuid.uuid4().hex
    page = Page(bot_servers.url)
    await page.open(mine)
    await page.say("客服电话多少", theirs)
    await page.say("你好", mine)
    answer = await page.answer()
    assert "智能客服小助手" in answer["text"]  # only the greeting came back
    await page.close()

    other = Page(bot_servers.url)
    assert await other.open(theirs) == []
    await other.close()


def test_history_shows_button_clicks_by_their_titles():
    from rasa.shared.core.events import BotUttered, UserUttered

    events = [
        BotUttered("请问有什么可以帮您？", {"buttons": [{"title": "查物流", "payload": "/logistics"}]}),
        UserUttered("/logistics"),
        BotUttered("请发一下订单编号或快递单号。"),
    ]
    assert conversation_history(events) == [
        {"sender": "bot", "text": "请问有什么可以帮您？", "buttons": [{"title": "查物流", "payload": "/logistics"}]},
        {"sender": "user", "text": "查物流"},
        {"sender": "bot", "text": "请发一下订单编号或快递单号。", "buttons": []},
    ]


@pytest.mark.asyncio
async def test_bad_socket_messages_get_a_clear_answer_or_are_ignored(bot_servers):
    session = uuid.uuid4().hex
    page = Page(bot_servers.url)
    await page.open(session)
    await page.client.emit("user_uttered", "not an object")
    await page.client.emit("user_uttered", {"message": 12345, "session_id": session})
    assert (await page.answer())["text"] == "您好像发了一条空消息～请问有什么可以帮您？"
    await page.say("退" * 20_000, session)
    assert "我先看了前 500 个字" in (await page.answer())["text"]
    await page.say("客服电话多少", session)
    texts = [(await page.answer())["text"] for _ in range(2)]
    assert any("400-8822-528" in text for text in texts)
    await page.close()


def rest_answer(url: str, sender: str, message: str) -> List[Dict[str, Any]]:
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", method="POST",
                                     data=json.dumps({"sender": sender, "message": message}).encode("utf-8"))
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@pytest.mark.asyncio
async def test_the_bots_lines_arrive_as_markdown_hard_breaks_and_rest_keeps_plain_text(bot_servers):
    rest = await asyncio.to_thread(rest_answer, bot_servers.url, uuid.uuid4().hex, "客服电话多少")
    plain = next(message["text"] for message in rest if "400-8822-528" in message["text"])
    assert "\n" in plain and "  \n" not in plain

    session = uuid.uuid4().hex
    page = Page(bot_servers.url)
    await page.open(session)
    await page.say("客服电话多少", session)
    [*_, answer] = await page.answers_until("400-8822-528")
    assert answer["text"] == as_markdown(plain)
    assert answer["text"].count("  \n") == plain.count("\n")
    await page.close()


@pytest.mark.asyncio
async def test_a_stock_widgets_tab_gets_the_other_tabs_message_quoted_as_a_bot_message(bot_servers):
    session = uuid.uuid4().hex
    ours, stock, typing = Page(bot_servers.url), Page(bot_servers.url, shows_user_echo=False), Page(bot_servers.url)
    for page in (ours, stock, typing):
        await page.open(session)
    await typing.say("人工客服几点下班", session)

    [quote, *_] = await stock.answers_until("23:00")
    template = load("channel_texts")["socketio"]["other_tab_message"]
    assert quote == {"text": as_markdown(template.format(message="人工客服几点下班")), "metadata": {"user_echo": True}}
    assert (await asyncio.wait_for(ours.echoes.get(), ANSWER_WAIT))["text"] == "人工客服几点下班"
    assert "23:00" in (await ours.answer())["text"]  # our widget gets no quote: its first bot message is the answer
    for page in (ours, stock, typing):
        await page.close()


@pytest.mark.asyncio
async def test_a_stock_widgets_button_click_is_shown_by_its_title_and_its_start_payload_not_at_all(bot_servers):
    session = uuid.uuid4().hex
    clicking, watching = Page(bot_servers.url, shows_user_echo=False), Page(bot_servers.url)
    await clicking.open(session)
    await watching.open(session)
    # rasa-webchat's first message: its init payload, which no one typed.
    await clicking.say("/greet", session)
    [*_, greeting] = await watching.answers_until(key="quick_replies")
    logistics = next(button for button in greeting["quick_replies"] if button["title"] == "查物流")
    # rasa-webchat sends a click as the bare payload, with no title.
    await clicking.say(logistics["payload"], session)
    echo = await asyncio.wait_for(watching.echoes.get(), ANSWER_WAIT)
    assert echo == {"text": logistics["payload"], "title": "查物流"}
    assert watching.echoes.empty()  # the init payload was not echoed
    await clicking.close()
    await watching.close()
