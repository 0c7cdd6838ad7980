"""The channel's blueprint on its own Sanic server with a stub bot: slow answers, the API, no token."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
import xml.etree.ElementTree as ElementTree
from typing import AsyncIterator, List, Optional

import pytest
from sanic import Sanic

from bot.channels.wechat import NOT_CONFIGURED, WeChatInput, channel_texts
from rasa.core.channels.channel import UserMessage
from tests.channels.conftest import (
    WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_TOKEN, WeChatServerClient, new_msg_id, new_openid,
    text_message,
)
from tests.channels.fake_wechat_api import FakeWeChatAPI

SHORT_REPLY_TIMEOUT = 0.3
SLOW_BOT_SECONDS = 0.8


class StubBot:
    """Stands in for Rasa: answers "答复：<text>" after ``delay`` seconds, with optional buttons."""

    def __init__(self, delay: float = 0.0, buttons: Optional[List[dict]] = None, fails: bool = False) -> None:
        self.delay = delay
        self.buttons = buttons
        self.fails = fails
        self.received: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        await asyncio.sleep(self.delay)
        if self.fails:
            raise RuntimeError("the stub bot breaks down")
        if self.buttons and message.text and not message.text.startswith("/"):
            await message.output_channel.send_text_with_buttons(message.sender_id, f"答复：{message.text}", self.buttons)
        else:
            await message.output_channel.send_text_message(message.sender_id, f"答复：{message.text}")


@pytest.fixture
def fake_api():
    with FakeWeChatAPI(app_id=WECHAT_APP_ID, app_secret=WECHAT_APP_SECRET) as api:
        yield api


def channel_for(api: FakeWeChatAPI, **options) -> WeChatInput:
    settings = {"token": WECHAT_TOKEN, "app_id": WECHAT_APP_ID, "app_secret": WECHAT_APP_SECRET,
                "api_base": api.base_url, "reply_timeout": SHORT_REPLY_TIMEOUT, **options}
    return WeChatInput.from_credentials(settings)


@contextlib.asynccontextmanager
async def serving(channel: WeChatInput, bot: StubBot) -> AsyncIterator[WeChatServerClient]:
    """The channel mounted like Rasa mounts it (/webhooks/wechat), on a free loopback port."""
    # Several Sanic apps in one process: what sanic-testing does, so Sanic
    # re-applies its request-handler rewrite from the original each time.
    Sanic.test_mode = True
    app = Sanic(f"wechat_test_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/wechat")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.start_serving()
    try:
        yield WeChatServerClient(f"http://127.0.0.1:{sock.getsockname()[1]}", WECHAT_TOKEN)
    finally:
        server.close()
        await server.wait_closed()
        sock.close()


async def post(client: WeChatServerClient, body: bytes):
    return await asyncio.to_thread(client.post, body)


async def api_messages_to(api: FakeWeChatAPI, openid: str, count: int = 1):
    return await asyncio.to_thread(api.wait_for_messages_to, openid, count, 10.0)


@pytest.mark.asyncio
async def test_a_slow_answer_gets_success_at_once_then_arrives_through_the_api(fake_api):
    bot, openid = StubBot(delay=SLOW_BOT_SECONDS), new_openid()
    async with serving(channel_for(fake_api), bot) as wechat:
        started = time.monotonic()
        reply = await post(wechat, text_message(openid, "我要退款"))
        answered_after = time.monotonic() - started
        [sent] = await api_messages_to(fake_api, openid)

    assert (reply.status, reply.body) == (200, "success")
    assert answered_after < SLOW_BOT_SECONDS
    assert sent == {"touser": openid, "msgtype": "text", "text": {"content": "答复：我要退款"}}
    assert fake_api.is_valid_token(fake_api.sent[0]["access_token"])
    assert fake_api.token_requests == [
        {"grant_type": "client_credential", "appid": WECHAT_APP_ID, "secret": WECHAT_APP_SECRET}]


@pytest.mark.asyncio
async def test_a_fast_answer_is_a_passive_reply_and_the_api_is_not_used(fake_api):
    openid = new_openid()
    async with serving(channel_for(fake_api), StubBot()) as wechat:
        reply = await post(wechat, text_message(openid, "你好"))
    assert ElementTree.fromstring(reply.body).findtext("Content") == "答复：你好"
    assert fake_api.token_requests == [] and fake_api.sent == []


@pytest.mark.asyncio
async def test_the_access_token_is_fetched_once_for_several_slow_answers(fake_api):
    openids = [new_openid() for _ in range(3)]
    async with serving(channel_for(fake_api), StubBot(delay=SLOW_BOT_SECONDS)) as wechat:
        replies = await asyncio.gather(*(post(wechat, text_message(openid, "查物流")) for openid in openids))
        for openid in openids:
            await api_messages_to(fake_api, openid)
    assert {reply.body for reply in replies} == {"success"}
    assert len(fake_api.token_requests) == 1
    assert len({entry["access_token"] for entry in fake_api.sent}) == 1


@pytest.mark.asyncio
async def test_an_expired_token_is_refreshed_once_and_the_answer_still_arrives(fake_api):
    first, second = new_openid(), new_openid()
    async with serving(channel_for(fake_api), StubBot(delay=SLOW_BOT_SECONDS)) as wechat:
        await post(wechat, text_message(first, "你好"))
        await api_messages_to(fake_api, first)
        fake_api.expire_tokens()
        await post(wechat, text_message(second, "你好"))
        await api_messages_to(fake_api, second)

    assert [entry["message"]["touser"] for entry in fake_api.rejected] == [second]
    assert len(fake_api.token_requests) == 2
    assert fake_api.is_valid_token(fake_api.sent[-1]["access_token"])


@pytest.mark.asyncio
async def test_an_invalid_credential_answer_triggers_one_refresh_and_retry(fake_api):
    openid = new_openid()
    fake_api.fail_next_send(40001)
    async with serving(channel_for(fake_api), StubBot(delay=SLOW_BOT_SECONDS)) as wechat:
        await post(wechat, text_message(openid, "转人工"))
        [sent] = await api_messages_to(fake_api, openid)
    assert sent["text"]["content"] == "答复：转人工"
    assert len(fake_api.token_requests) == 2 and len(fake_api.rejected) == 1


@pytest.mark.asyncio
async def test_an_api_error_is_logged_and_later_answers_still_go_out(fake_api, caplog):
    lost, later = new_openid(), new_openid()
    fake_api.fail_next_send(45015)  # WeChat: the 48-hour window is over
    async with serving(channel_for(fake_api), StubBot(delay=SLOW_BOT_SECONDS)) as wechat:
        with caplog.at_level(logging.ERROR, logger="bot.channels.fake_api"):
            await post(wechat, text_message(lost, "你好"))
            await post(wechat, text_message(later, "你好"))
            await api_messages_to(fake_api, later)
    assert fake_api.messages_to(lost) == []
    assert any("45015" in record.getMessage() for record in caplog.records)


@pytest.mark.asyncio
async def test_a_retry_while_the_answer_is_still_coming_is_not_processed_again(fake_api):
    bot, openid, msg_id = StubBot(delay=SLOW_BOT_SECONDS), new_openid(), new_msg_id()
    async with serving(channel_for(fake_api, reply_timeout=2.0), bot) as wechat:
        body = text_message(openid, "物流到哪了", msg_id)
        original = asyncio.ensure_future(post(wechat, body))
        await asyncio.sleep(0.2)
        retry = await post(wechat, body)
        first = await original
    assert (retry.status, retry.body) == (200, "success")
    assert ElementTree.fromstring(first.body).findtext("Content") == "答复：物流到哪了"
    assert len(bot.received) == 1 and fake_api.sent == []


@pytest.mark.asyncio
async def test_choices_sent_through_the_api_can_be_picked_by_number(fake_api):
    buttons = [{"title": "退款/退货", "payload": "/refund"}, {"title": "查物流", "payload": "/logistics"}]
    bot, openid = StubBot(delay=SLOW_BOT_SECONDS, buttons=buttons), new_openid()
    async with serving(channel_for(fake_api), bot) as wechat:
        await post(wechat, text_message(openid, "在吗"))
        [sent] = await api_messages_to(fake_api, openid)
        bot.delay = 0
        await post(wechat, text_message(openid, " 2 "))
    assert "1. 退款/退货\n2. 查物流" in sent["text"]["content"]
    assert bot.received[-1].text == "/logistics"


@pytest.mark.asyncio
async def test_metadata_carries_the_msg_id_and_the_official_account(fake_api):
    bot, openid, msg_id = StubBot(), new_openid(), new_msg_id()
    async with serving(channel_for(fake_api), bot) as wechat:
        await post(wechat, text_message(openid, "你好", msg_id, account="gh_shop"))
    [message] = bot.received
    assert message.sender_id == openid and message.input_channel == "wechat"
    assert message.metadata["wechat"]["msg_id"] == msg_id
    assert message.metadata["wechat"]["official_account"] == "gh_shop"


@pytest.mark.asyncio
async def test_a_failing_bot_still_gets_the_user_a_polite_answer(fake_api):
    async with serving(channel_for(fake_api), StubBot(fails=True)) as wechat:
        reply = await post(wechat, text_message(new_openid(), "你好"))
    assert ElementTree.fromstring(reply.body).findtext("Content") == channel_texts()["bot_unavailable"]


@pytest.mark.asyncio
async def test_without_a_token_every_request_is_refused(fake_api):
    bot = StubBot()
    # Empty settings: what the channel reads when WECHAT_TOKEN and the rest are unset.
    channel = WeChatInput.from_credentials({"token": "", "app_id": "", "app_secret": "", "api_base": ""})
    async with serving(channel, bot) as wechat:
        handshake = await asyncio.to_thread(wechat.handshake, "echo")
        unsigned = await asyncio.to_thread(wechat.request, "GET", {"echostr": "echo"})
        message = await post(wechat, text_message(new_openid(), "你好"))
    for reply in (handshake, unsigned, message):
        assert (reply.status, reply.body) == (403, NOT_CONFIGURED)
    assert bot.received == []


class HandsToWeChatAgents(StubBot):
    """Stands in for Rasa when the handoff goes to WeChat's own agents: its words, then the transfer message."""

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "好的，这就为您转接微信人工客服")
        await message.output_channel.send_custom_json(message.sender_id, {"wechat": "transfer_customer_service"})


@pytest.mark.asyncio
async def test_a_handoff_to_wechats_agents_is_the_transfer_reply_and_the_words_go_through_the_api(fake_api):
    openid = new_openid()
    async with serving(channel_for(fake_api), HandsToWeChatAgents()) as wechat:
        reply = await post(wechat, text_message(openid, "转人工"))
        [sent] = await api_messages_to(fake_api, openid)

    xml = ElementTree.fromstring(reply.body)
    assert xml.findtext("MsgType") == "transfer_customer_service"
    assert (xml.findtext("ToUserName"), xml.findtext("Content")) == (openid, None)
    assert sent["text"]["content"] == "好的，这就为您转接微信人工客服"
