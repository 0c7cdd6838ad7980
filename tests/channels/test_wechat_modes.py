"""WeChat's three message modes, with wechatpy (the usual WeChat SDK) playing WeChat's servers.

wechatpy's ``WeChatCrypto`` builds the encrypted requests exactly as WeChat
does and opens the bot's encrypted replies; its ``check_signature`` and
``parse_message`` check the plaintext path. The channel runs on its own
Sanic server with a stub bot (tests/channels/test_wechat_slow_path.py), the
slow path against the fake WeChat API.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import struct
import xml.etree.ElementTree as ElementTree
from typing import Optional

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto, _get_signature
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.channels.wechat import WeChatInput, channel_texts
from tests.channels.conftest import (
    OFFICIAL_ACCOUNT, WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_TOKEN, Reply, WeChatServerClient, cdata,
    message_xml, new_msg_id, new_openid, text_message,
)
from tests.channels.test_wechat_slow_path import SLOW_BOT_SECONDS, StubBot, api_messages_to, serving

# EncodingAESKeys as the WeChat console makes them: 43 letters and digits.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NEW_AES_KEY = "Zyxwvutsrqponmlkjihgfedcba9876543210ZYXWVUT"
OTHER_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


def channel(mode: str, api=None, **options) -> WeChatInput:
    settings = {"token": WECHAT_TOKEN, "app_id": WECHAT_APP_ID, "app_secret": WECHAT_APP_SECRET, "mode": mode,
                "encoding_aes_key": AES_KEY if mode != "plain" else "", "reply_timeout": 2.0, **options}
    if api is not None:
        settings["api_base"] = api.base_url
    return WeChatInput.from_credentials(settings)


class WeChatServers:
    """WeChat's side in each mode: wechatpy encrypts what it posts and opens what comes back."""

    def __init__(self, client: WeChatServerClient, aes_key: str = AES_KEY, app_id: str = WECHAT_APP_ID) -> None:
        self.client = client
        self.crypto = WeChatCrypto(WECHAT_TOKEN, aes_key, app_id)

    def plain(self, body: bytes) -> Reply:
        query = self.client.signed_query()
        # The bot signs as WeChat does: wechatpy accepts its signature.
        check_signature(WECHAT_TOKEN, query["signature"], query["timestamp"], query["nonce"])
        return self.client.post(body, query)

    def safe(self, body: bytes, **tamper) -> Reply:
        """The message as safe mode posts it: ToUserName and Encrypt only."""
        return self._encrypted(body, compatible=False, **tamper)

    def compatible(self, body: bytes, **tamper) -> Reply:
        """The message as compatibility mode posts it: the plaintext fields and Encrypt side by side."""
        return self._encrypted(body, compatible=True, **tamper)

    def _encrypted(self, body: bytes, compatible: bool, encrypt: Optional[str] = None,
                   msg_signature: Optional[str] = None) -> Reply:
        query = self.client.signed_query(encrypt_type="aes")
        timestamp, nonce = query["timestamp"], query["nonce"]
        envelope = ElementTree.fromstring(self.crypto.encrypt_message(body.decode("utf-8"), nonce, timestamp))
        encrypt = encrypt or envelope.findtext("Encrypt")
        query["msg_signature"] = msg_signature or _get_signature(WECHAT_TOKEN, timestamp, nonce, encrypt)
        fields = (body.decode("utf-8")[len("<xml>"):-len("</xml>")] if compatible
                  else f"<ToUserName>{cdata(OFFICIAL_ACCOUNT)}</ToUserName>")
        return self.client.post(f"<xml>{fields}<Encrypt>{cdata(encrypt)}</Encrypt></xml>".encode("utf-8"), query)

    def open_reply(self, reply: Reply, crypto: Optional[WeChatCrypto] = None):
        """The bot's encrypted passive reply as wechatpy reads it: signature checked, then decrypted and parsed."""
        assert reply.status == 200, reply.body
        envelope = ElementTree.fromstring(reply.body)
        assert {child.tag for child in envelope} == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
        xml = (crypto or self.crypto).decrypt_message(
            reply.body, envelope.findtext("MsgSignature"), envelope.findtext("TimeStamp"), envelope.findtext("Nonce"))
        return parse_message(xml)


def read_plain_reply(reply: Reply):
    assert reply.status == 200 and "xml" in reply.content_type, reply.body
    assert ElementTree.fromstring(reply.body).find("Encrypt") is None
    return parse_message(reply.body)


def ask(openid: str, text: str = "客服电话多少", msg_id: Optional[str] = None) -> bytes:
    return text_message(openid, text, msg_id)


async def run(call, *args, **kwargs):
    return await asyncio.to_thread(call, *args, **kwargs)


# --- plaintext mode, and what it does with encrypted messages ------------------------------


@pytest.mark.asyncio
async def test_plaintext_mode_answers_with_a_text_reply_wechatpy_reads_with_the_addresses_swapped():
    bot, openid = StubBot(), new_openid()
    async with serving(channel("plain"), bot) as client:
        reply = read_plain_reply(await run(WeChatServers(client).plain, ask(openid)))
    assert (reply.type, reply.content) == ("text", "答复：客服电话多少")
    assert (reply.source, reply.target) == (OFFICIAL_ACCOUNT, openid)


@pytest.mark.asyncio
@pytest.mark.parametrize("account_mode, named, setting", [
    ("safe", "safe mode (安全模式)", "WECHAT_MODE=safe"),
    ("compatible", "compatibility mode (兼容模式)", "WECHAT_MODE=compatible"),
])
async def test_plaintext_mode_refuses_encrypted_messages_naming_the_accounts_mode_and_what_to_set(
        caplog, account_mode, named, setting):
    bot = StubBot()
    async with serving(channel("plain"), bot) as client:
        with caplog.at_level(logging.WARNING, logger="bot.channels.wechat"):
            reply = await run(getattr(WeChatServers(client), account_mode), ask(new_openid()))
    assert reply.status == 400
    for said in (reply.body, caplog.text):
        assert named in said and "plaintext mode (明文模式)" in said
        assert setting in said and "WECHAT_ENCODING_AES_KEY" in said
    assert bot.received == []


# --- safe mode --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_safe_mode_decrypts_the_message_and_encrypts_the_reply():
    bot, openid, msg_id = StubBot(), new_openid(), new_msg_id()
    async with serving(channel("safe"), bot) as client:
        wechat = WeChatServers(client)
        reply = wechat.open_reply(await run(wechat.safe, ask(openid, "我要退款", msg_id)))
    assert (reply.type, reply.content) == ("text", "答复：我要退款")
    assert (reply.source, reply.target) == (OFFICIAL_ACCOUNT, openid)
    [message] = bot.received
    assert (message.sender_id, message.text) == (openid, "我要退款")
    assert message.metadata["wechat"]["msg_id"] == msg_id


@pytest.mark.asyncio
async def test_safe_mode_refuses_plaintext_messages_naming_both_modes(caplog):
    bot = StubBot()
    async with serving(channel("safe"), bot) as client:
        with caplog.at_level(logging.WARNING, logger="bot.channels.wechat"):
            reply = await run(WeChatServers(client).plain, ask(new_openid()))
    assert reply.status == 400
    for said in (reply.body, caplog.text):
        assert "plaintext mode (明文模式)" in said and "safe mode (安全模式)" in said and "WECHAT_MODE=plain" in said
    assert bot.received == []


@pytest.mark.asyncio
async def test_safe_mode_seals_the_text_only_note_and_the_greeting_on_following():
    openid = new_openid()
    async with serving(channel("safe"), StubBot()) as client:
        wechat = WeChatServers(client)
        image = message_xml(openid, "image", {"PicUrl": cdata("http://mmbiz.example/p.jpg"), "MsgId": new_msg_id()})
        note = wechat.open_reply(await run(wechat.safe, image))
        follow = wechat.open_reply(await run(wechat.safe, message_xml(openid, "event", {"Event": cdata("subscribe")})))
    assert note.content == channel_texts()["unsupported_message"]
    assert follow.content == "答复：/greet" and follow.target == openid


@pytest.mark.asyncio
async def test_a_slow_answer_in_safe_mode_still_goes_through_the_customer_service_api(fake_api):
    openid = new_openid()
    wechat_channel = channel("safe", fake_api, reply_timeout=0.3)
    async with serving(wechat_channel, StubBot(delay=SLOW_BOT_SECONDS)) as client:
        reply = await run(WeChatServers(client).safe, ask(openid, "查物流"))
        [sent] = await api_messages_to(fake_api, openid)
    assert (reply.status, reply.body) == (200, "success")
    assert sent == {"touser": openid, "msgtype": "text", "text": {"content": "答复：查物流"}}


# --- compatibility mode --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_compatibility_mode_answers_an_encrypted_request_encrypted():
    bot, openid = StubBot(), new_openid()
    async with serving(channel("compatible"), bot) as client:
        wechat = WeChatServers(client)
        reply = wechat.open_reply(await run(wechat.compatible, ask(openid, "转人工")))
    assert (reply.content, reply.target) == ("答复：转人工", openid)
    assert [message.text for message in bot.received] == ["转人工"]


@pytest.mark.asyncio
async def test_compatibility_mode_reads_the_encrypted_copy_not_the_plaintext_beside_it():
    bot, openid = StubBot(), new_openid()
    async with serving(channel("compatible"), bot) as client:
        wechat = WeChatServers(client)
        query = client.signed_query(encrypt_type="aes")
        sealed = ElementTree.fromstring(wechat.crypto.encrypt_message(
            ask(openid, "真的").decode("utf-8"), query["nonce"], query["timestamp"])).findtext("Encrypt")
        query["msg_signature"] = _get_signature(WECHAT_TOKEN, query["timestamp"], query["nonce"], sealed)
        forged_plaintext = ask(openid, "假的").decode("utf-8")[: -len("</xml>")]
        await run(client.post, f"{forged_plaintext}<Encrypt>{cdata(sealed)}</Encrypt></xml>".encode(), query)
    assert [message.text for message in bot.received] == ["真的"]


@pytest.mark.asyncio
async def test_compatibility_mode_answers_a_plaintext_request_in_plaintext():
    openid = new_openid()
    async with serving(channel("compatible"), StubBot()) as client:
        reply = read_plain_reply(await run(WeChatServers(client).plain, ask(openid, "你好")))
    assert (reply.content, reply.target) == ("答复：你好", openid)


# --- what an encrypted message must pass ----------------------------------------------------------


def sealed_with_padding_of(plain: bytes, padding_byte: int) -> str:
    """What WeChat's layout looks like with a broken PKCS#7 padding, AES-encrypted with the right key."""
    key = base64.b64decode(AES_KEY + "=")
    payload = b"0123456789abcdef" + struct.pack("!I", len(plain)) + plain + WECHAT_APP_ID.encode()
    filler = 32 - len(payload) % 32
    padded = payload + bytes([7] * (filler - 1) + [padding_byte])
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def truncated(encrypt: str) -> str:
    return base64.b64encode(base64.b64decode(encrypt)[:-16]).decode()


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["safe", "compatible"])
async def test_encrypted_messages_that_do_not_check_out_are_refused_and_never_reach_the_bot(mode, caplog):
    openid, bot = new_openid(), StubBot()
    async with serving(channel(mode), bot) as client:
        wechat = WeChatServers(client)
        send = getattr(wechat, mode)
        good = ElementTree.fromstring(wechat.crypto.encrypt_message(ask(openid).decode(), "1", "1")).findtext("Encrypt")
        with caplog.at_level(logging.WARNING, logger="bot.channels.wechat"):
            other_app = await run(getattr(WeChatServers(client, app_id="wx-another-app"), mode), ask(openid))
            bad_signature = await run(send, ask(openid), msg_signature="0" * 40)
            bad_padding = await run(send, ask(openid), encrypt=sealed_with_padding_of(ask(openid), 0))
            cut = await run(send, ask(openid), encrypt=truncated(good))
            other_key = await run(getattr(WeChatServers(client, aes_key=OTHER_AES_KEY), mode), ask(openid))
            unsigned = await run(client.post, ask(openid), {"encrypt_type": "aes"})
    assert (other_app.status, bad_signature.status, unsigned.status) == (400, 403, 403)
    assert "AppID" in other_app.body and "WECHAT_APP_ID" in other_app.body
    assert bad_padding.status == 400 and "bad padding" in bad_padding.body
    assert cut.status == 400 and "truncated" in cut.body
    assert other_key.status == 400 and "WECHAT_ENCODING_AES_KEY" in other_key.body
    assert "msg_signature" in caplog.text and "truncated" in caplog.text
    assert bot.received == []


# --- key rotation ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_after_a_key_change_both_keys_open_messages_and_each_reply_uses_the_requests_key(caplog):
    bot, openid = StubBot(), new_openid()
    rotating = channel("safe", encoding_aes_key=NEW_AES_KEY, previous_encoding_aes_key=AES_KEY)
    async with serving(rotating, bot) as client:
        old, new = WeChatServers(client, aes_key=AES_KEY), WeChatServers(client, aes_key=NEW_AES_KEY)
        with caplog.at_level(logging.INFO, logger="bot.channels.wechat"):
            in_flight = await run(old.safe, ask(openid, "旧密钥"))
        current = await run(new.safe, ask(openid, "新密钥"))
        unknown = await run(WeChatServers(client, aes_key=OTHER_AES_KEY).safe, ask(openid, "别的密钥"))
    assert old.open_reply(in_flight).content == "答复：旧密钥"
    assert new.open_reply(current).content == "答复：新密钥"
    with pytest.raises(Exception):
        new.open_reply(in_flight)
    assert "WECHAT_PREVIOUS_ENCODING_AES_KEY" in caplog.text
    assert unknown.status == 400
    assert [message.text for message in bot.received] == ["旧密钥", "新密钥"]


@pytest.mark.asyncio
async def test_once_the_previous_key_is_dropped_its_messages_are_refused():
    bot = StubBot()
    async with serving(channel("safe", encoding_aes_key=NEW_AES_KEY), bot) as client:
        reply = await run(WeChatServers(client, aes_key=AES_KEY).safe, ask(new_openid()))
    assert reply.status == 400 and "WECHAT_PREVIOUS_ENCODING_AES_KEY" in reply.body
    assert bot.received == []


# --- retries --------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_a_retry_is_answered_success_and_processed_once_in_every_mode(mode):
    bot, openid, msg_id = StubBot(), new_openid(), new_msg_id()
    async with serving(channel(mode), bot) as client:
        wechat = WeChatServers(client)
        send = wechat.plain if mode == "plain" else getattr(wechat, mode)
        # WeChat encrypts each retry afresh: a new random prefix, the same MsgId inside.
        first, retry = await run(send, ask(openid, "客服电话", msg_id)), await run(send, ask(openid, "客服电话", msg_id))
    answer = read_plain_reply(first) if mode == "plain" else wechat.open_reply(first)
    assert answer.content == "答复：客服电话"
    assert (retry.status, retry.body) == (200, "success")
    assert len(bot.received) == 1


# --- configuration and start ---------------------------------------------------------------------


@pytest.mark.parametrize("settings, named", [
    ({"mode": "safe", "encoding_aes_key": ""}, "WECHAT_ENCODING_AES_KEY"),
    ({"mode": "compatible", "encoding_aes_key": ""}, "WECHAT_ENCODING_AES_KEY"),
    ({"mode": "safe", "encoding_aes_key": AES_KEY[:-1]}, "43-character"),
    ({"mode": "safe", "encoding_aes_key": "!" * 43}, "WECHAT_ENCODING_AES_KEY"),
    ({"mode": "safe", "previous_encoding_aes_key": "too-short"}, "WECHAT_PREVIOUS_ENCODING_AES_KEY"),
    ({"mode": "safe", "app_id": ""}, "WECHAT_APP_ID"),
    ({"mode": "secure"}, "WECHAT_MODE"),
])
@pytest.mark.asyncio
async def test_a_mode_that_cannot_work_leaves_the_channel_off_with_a_message(caplog, settings, named):
    base = {"token": WECHAT_TOKEN, "app_id": WECHAT_APP_ID, "encoding_aes_key": AES_KEY}
    with caplog.at_level(logging.ERROR, logger="bot.channels.wechat"):
        off = WeChatInput.from_credentials({**base, **settings})
    assert "WeChat channel not started" in caplog.text and named in caplog.text
    bot = StubBot()
    async with serving(off, bot) as client:
        reply = await run(client.post, ask(new_openid()))
    assert reply.status == 503 and named in reply.body
    assert bot.received == []


@pytest.mark.parametrize("mode, named", [
    ("plain", "plaintext mode (明文模式)"), ("compatible", "compatibility mode (兼容模式)"), ("safe", "safe mode (安全模式)"),
])
def test_the_channel_says_at_start_which_mode_it_is_in(caplog, mode, named):
    with caplog.at_level(logging.INFO, logger="bot.channels.wechat"):
        channel(mode)
    assert f"WeChat channel in {named}" in caplog.text


def test_the_mode_is_case_insensitive_and_plain_by_default():
    assert channel("SAFE").mode == "safe"
    assert WeChatInput.from_credentials({"token": WECHAT_TOKEN}).mode == "plain"


def test_wechatpy_rejects_a_reply_signed_with_another_token():
    # The sealed reply is really signed: WeChat (wechatpy) checks the MsgSignature with its token.
    sealed = channel("safe").crypto.encrypt_reply("<xml><Content>x</Content></xml>", base64.b64decode(AES_KEY + "="))
    envelope = ElementTree.fromstring(sealed)
    args = [envelope.findtext(name) for name in ("MsgSignature", "TimeStamp", "Nonce")]
    with pytest.raises(InvalidSignatureException):
        WeChatCrypto("another-token", AES_KEY, WECHAT_APP_ID).decrypt_message(sealed, *args)
    assert "<Content>x</Content>" in WeChatCrypto(WECHAT_TOKEN, AES_KEY, WECHAT_APP_ID).decrypt_message(sealed, *args)


@pytest.fixture
def fake_api():
    from tests.channels.fake_wechat_api import FakeWeChatAPI

    with FakeWeChatAPI(app_id=WECHAT_APP_ID, app_secret=WECHAT_APP_SECRET) as api:
        yield api

