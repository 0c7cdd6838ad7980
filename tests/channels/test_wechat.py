"""The WeChat channel through the running bot: signed XML over HTTP, as WeChat's servers send it."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Dict

import pytest

from bot.channels.wechat import channel_texts
from bot.knowledge.texts import response_placeholders
from tests.channels.conftest import (
    OFFICIAL_ACCOUNT, WeChatServerClient, cdata, message_xml, new_msg_id, new_openid, text_message,
    user_messages,
)


@pytest.fixture(scope="module")
def wechat(wechat_bot) -> WeChatServerClient:
    return WeChatServerClient(wechat_bot.url, wechat_bot.wechat_token)


def passive_reply(reply) -> Dict[str, str]:
    assert reply.status == 200, reply.body
    assert "xml" in reply.content_type
    return {child.tag: child.text or "" for child in ElementTree.fromstring(reply.body)}


def say(wechat, openid: str, text: str, msg_id: str = None) -> Dict[str, str]:
    return passive_reply(wechat.post(text_message(openid, text, msg_id)))


def test_handshake_echoes_echostr(wechat):
    reply = wechat.handshake("echo-5821")
    assert (reply.status, reply.body) == (200, "echo-5821")
    assert reply.content_type.startswith("text/plain")


def test_handshake_with_a_wrong_signature_is_refused(wechat):
    reply = wechat.handshake("echo-1", query=wechat.signed_query(token="not-the-token"))
    assert reply.status == 403 and "echo-1" not in reply.body


def test_hotline_question_gets_a_passive_reply_addressed_back_to_the_follower(wechat, wechat_bot):
    openid, msg_id = new_openid(), new_msg_id()
    reply = say(wechat, openid, "客服电话多少", msg_id)

    assert reply["ToUserName"] == openid and reply["FromUserName"] == OFFICIAL_ACCOUNT
    assert reply["MsgType"] == "text" and reply["CreateTime"].isdigit()
    assert "400-8822-528" in reply["Content"]
    [message] = user_messages(wechat_bot.url, openid)
    assert message["text"] == "客服电话多少" and message["input_channel"] == "wechat"
    assert message["metadata"]["wechat"]["msg_id"] == msg_id
    assert message["metadata"]["wechat"]["official_account"] == OFFICIAL_ACCOUNT


def test_greeting_buttons_become_numbered_choices_and_a_number_picks_one(wechat):
    openid = new_openid()
    greeting = say(wechat, openid, "你好")["Content"]
    assert "1. 退款/退货" in greeting and "2. 查物流" in greeting
    assert channel_texts()["choice_hint"] in greeting

    refund = say(wechat, openid, " １ ")["Content"]
    assert "查退款" in refund and "订单编号" in refund


def test_a_number_beyond_the_choices_is_read_as_text(wechat, wechat_bot):
    openid = new_openid()
    say(wechat, openid, "你好")
    say(wechat, openid, "9")
    assert [message["text"] for message in user_messages(wechat_bot.url, openid)] == ["你好", "9"]


def test_wrong_signature_is_refused_and_nothing_reaches_the_bot(wechat, wechat_bot):
    openid = new_openid()
    reply = wechat.post(text_message(openid, "客服电话多少"), query=wechat.signed_query(token="forged"))
    assert reply.status == 403
    assert user_messages(wechat_bot.url, openid) == []


def test_missing_signature_parameters_are_refused(wechat, wechat_bot):
    openid = new_openid()
    query = wechat.signed_query()
    del query["signature"]
    assert wechat.post(text_message(openid, "你好"), query=query).status == 403
    assert wechat.post(text_message(openid, "你好"), query={}).status == 403
    assert user_messages(wechat_bot.url, openid) == []


def test_malformed_xml_is_a_bad_request(wechat):
    assert wechat.post(b"<xml><ToUserName>gh</ToUserName><FromUserName>").status == 400
    assert wechat.post(b"not xml at all").status == 400


def test_xml_with_entity_declarations_is_refused_before_any_expansion(wechat, wechat_bot):
    openid = new_openid()
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    body = (f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY l0 "哈">{laughs}]>'
            f"<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
            "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&l9;</Content><MsgId>1</MsgId></xml>")
    assert wechat.post(body.encode("utf-8")).status == 400
    assert user_messages(wechat_bot.url, openid) == []


def test_an_oversized_body_is_refused(wechat, wechat_bot):
    openid = new_openid()
    assert wechat.post(text_message(openid, "退款" * 40_000)).status == 413
    assert user_messages(wechat_bot.url, openid) == []


def test_a_retried_message_is_processed_once_and_the_retry_gets_success(wechat, wechat_bot):
    openid, msg_id = new_openid(), new_msg_id()
    body = text_message(openid, "客服电话多少", msg_id)
    first = passive_reply(wechat.post(body))
    retry = wechat.post(body)

    assert "400-8822-528" in first["Content"]
    assert (retry.status, retry.body) == (200, "success")
    assert len(user_messages(wechat_bot.url, openid)) == 1


def test_following_the_account_is_welcomed_with_the_bots_greeting(wechat, wechat_bot):
    openid = new_openid()
    welcome = passive_reply(wechat.post(message_xml(openid, "event", {"Event": cdata("subscribe")})))
    assert "智能客服" in welcome["Content"] and "1. 退款/退货" in welcome["Content"]
    assert welcome["ToUserName"] == openid


def test_unfollowing_is_acknowledged_silently(wechat, wechat_bot):
    openid = new_openid()
    reply = wechat.post(message_xml(openid, "event", {"Event": cdata("unsubscribe")}))
    assert (reply.status, reply.body) == (200, "success")
    assert user_messages(wechat_bot.url, openid) == []


@pytest.mark.parametrize("msg_type, fields", [
    ("image", {"PicUrl": cdata("http://mmbiz.example/pic.jpg"), "MediaId": cdata("m1")}),
    ("location", {"Location_X": "31.2", "Location_Y": "121.4", "Scale": "15", "Label": cdata("上海")}),
    ("voice", {"MediaId": cdata("m2"), "Format": cdata("amr")}),
])
def test_messages_the_bot_cannot_read_get_a_polite_text_with_the_hotline(wechat, wechat_bot, msg_type, fields):
    openid = new_openid()
    reply = passive_reply(wechat.post(message_xml(openid, msg_type, {**fields, "MsgId": new_msg_id()})))
    assert reply["Content"] == channel_texts()["unsupported_message"]
    assert response_placeholders()["hotline"] in reply["Content"]
    assert user_messages(wechat_bot.url, openid) == []


def test_voice_with_speech_recognition_is_answered_as_text(wechat):
    openid = new_openid()
    voice = message_xml(openid, "voice", {"MediaId": cdata("m3"), "Format": cdata("amr"),
                                          "Recognition": cdata("客服电话多少？"), "MsgId": new_msg_id()})
    assert "400-8822-528" in passive_reply(wechat.post(voice))["Content"]


def test_xml_typed_by_the_user_is_just_text(wechat, wechat_bot):
    openid = new_openid()
    typed = "<xml><Content>客服电话多少</Content></xml> ]]> &amp;"
    reply = say(wechat, openid, typed)
    assert reply["ToUserName"] == openid and reply["Content"]
    assert user_messages(wechat_bot.url, openid)[0]["text"] == typed
