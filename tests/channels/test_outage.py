"""bot/channels/outage.py on its own: a store that cannot be reached is told to the user, on every channel."""
from __future__ import annotations

import json

import pytest
import redis.exceptions
import sqlalchemy.exc
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.server import ErrorResponse

from bot import knowledge
from bot.channels.guard import GuardSettings, MessageGuard
from bot.channels.outage import (
    ConversationNotRecorded,
    _rasa_error_or_store_unavailable,
    is_storage_outage,
)
from bot.channels.socketio import PersistentSocketIOInput
from bot.channels.wechat import Incoming, WeChatInput, ASK_BOT
from bot.knowledge.texts import reply_text

def database_gone() -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError(
        "INSERT INTO events ...", {}, Exception("server closed the connection unexpectedly"))


def outage_reply() -> str:
    return reply_text("storage_outage")


def saved_too_late(answer: str):
    """A bot that answers, then fails to save the conversation (as Rasa saves after sending)."""
    async def bot(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, answer)
        raise database_gone()

    return bot


def test_the_outage_message_apologises_and_gives_the_hotline_and_hours_from_the_facts():
    facts = knowledge.load("facts")
    text = outage_reply()
    assert facts["hotlines"]["shopper"] in text and "抱歉" in text and "可能没有记录" in text
    assert facts["service_hours"]["close"] in text


@pytest.mark.parametrize("error", [
    database_gone(),
    sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")),
    redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    redis.exceptions.TimeoutError("Timeout reading from socket"),
])
def test_an_unreachable_store_is_an_outage(error):
    assert is_storage_outage(error)


def test_an_error_raised_while_handling_an_outage_is_one_too():
    try:
        try:
            raise database_gone()
        except Exception:
            raise RuntimeError("An unexpected error occurred")  # what Rasa's HTTP API does
    except RuntimeError as wrapped:
        assert is_storage_outage(wrapped)


@pytest.mark.parametrize("error", [ValueError("bad"), sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("dup"))])
def test_other_errors_are_not(error):
    assert not is_storage_outage(error)


@pytest.mark.asyncio
async def test_the_guard_turns_an_outage_into_the_outage_message_and_lets_other_errors_through():
    guard = MessageGuard(GuardSettings())
    with pytest.raises(ConversationNotRecorded) as outage:
        await guard.handle(UserMessage("客服电话多少", CollectingOutputChannel(), "s"), saved_too_late("答案"))
    assert outage.value.reply == outage_reply()
    assert outage.value.messages() == [{"recipient_id": "s", "text": outage_reply()}]

    async def buggy(message: UserMessage) -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await guard.handle(UserMessage("客服电话多少", CollectingOutputChannel(), "s2"), buggy)


@pytest.mark.asyncio
async def test_a_socketio_page_that_saw_the_answer_is_then_told_it_may_not_have_been_kept():
    channel = PersistentSocketIOInput(session_persistence=False)
    channel.blueprint(saved_too_late("这是答案"))
    shown = []

    async def emit(event, data, **kwargs):
        shown.append((event, data.get("text")))

    channel.sio.emit = emit
    await channel.sio.handlers["/"]["user_uttered"]("socket-1", {"message": "客服电话多少"})
    assert shown == [("bot_uttered", "这是答案"), ("bot_uttered", outage_reply())]


@pytest.mark.asyncio
async def test_wechat_answers_an_outage_with_the_outage_message():
    channel = WeChatInput(token="t")
    incoming = Incoming(openid="o-1", account="gh_1", kind=ASK_BOT, dedupe_key=("m", "1"), text="客服电话多少")
    guarded = MessageGuard(GuardSettings()).wrap(saved_too_late("答案"))  # as the channel's blueprint does
    assert await channel._ask_bot(incoming, guarded) == outage_reply()


@pytest.mark.asyncio
async def test_rasa_http_api_errors_caused_by_an_outage_become_503_and_others_keep_their_status():
    try:
        try:
            raise database_gone()
        except Exception as error:
            raise ErrorResponse(500, "ConversationError", f"An unexpected error occurred. Error: {error}")
    except ErrorResponse as wrapped:
        answer = await _rasa_error_or_store_unavailable(None, wrapped)
    assert answer.status == 503 and answer.headers["Retry-After"]
    assert json.loads(answer.body)["reason"] == "StoreUnavailable"

    answer = await _rasa_error_or_store_unavailable(None, ErrorResponse(404, "NotFound", "no such thing"))
    assert answer.status == 404 and json.loads(answer.body)["reason"] == "NotFound"
