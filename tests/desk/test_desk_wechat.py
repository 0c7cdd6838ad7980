"""A WeChat follower gets a person: the agent's messages go out through the customer-service message API.

WeChat takes 5 such messages within 48 hours of the user's last message; the
desk shows what is left and keeps one for the closing message. The user's
side is real signed XML to the bot's WeChat webhook; WeChat's side is the
local fake API (tests/channels/fake_wechat_api.py).
"""
from __future__ import annotations

import queue
import re
import threading

from tests.channels.conftest import WECHAT_TOKEN, WeChatServerClient, new_openid, text_message


def wechat(bot) -> WeChatServerClient:
    return WeChatServerClient(bot.url, WECHAT_TOKEN)


def sent_texts(api, openid: str):
    return [message["text"]["content"] for message in api.messages_to(openid)]


def follow_events(client):
    """The agent's live event stream, read in a thread into a queue."""
    found: "queue.Queue[tuple]" = queue.Queue()

    def read() -> None:
        try:
            for item in client.events():
                found.put(item)
        except Exception:  # the test ended and closed the session
            pass

    threading.Thread(target=read, daemon=True).start()
    return found


def next_message(events: "queue.Queue[tuple]", timeout: float = 20.0) -> dict:
    while True:
        name, payload = events.get(timeout=timeout)
        if name == "message":
            return payload


def test_an_agent_answers_a_wechat_follower_within_wechats_budget(desk_bot, wang):
    api, openid = desk_bot.wechat_api, new_openid()
    asked = wechat(desk_bot).post(text_message(openid, "转人工"))
    number = re.search(r"T\d{8}-\d{4}", asked.body).group(0)
    assert "接入后会直接在这里回复您" in asked.body

    assert wang.waiting(number)["channel"] == "wechat"
    claimed = wang.claim(number)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["wechat_budget"]["left_for_agent"] == 3  # 5, minus the joined message, minus closing's
    api.wait_for_messages_to(openid, 1)
    assert sent_texts(api, openid)[0].startswith("人工客服 小王 已接入")

    for text in ("您好，请问是哪笔订单？", "麻烦发一下订单编号。", "我在帮您查。"):
        answer = wang.say(number, text)
        assert answer.status_code == 200, answer.text
    api.wait_for_messages_to(openid, 4)
    assert sent_texts(api, openid)[1:] == ["您好，请问是哪笔订单？", "麻烦发一下订单编号。", "我在帮您查。"]
    refused = wang.say(number, "还有一条")
    assert refused.status_code == 409
    assert refused.json()["error"] == "wechat_budget"
    assert refused.json()["wechat_budget"] == {"limit": 5, "used": 4, "left": 1, "left_for_agent": 0,
                                               "reserved_for_closing": 1,
                                               "window_ends": refused.json()["wechat_budget"]["window_ends"]}
    assert len(api.messages_to(openid)) == 4  # nothing went out

    # The user writes again: the agent sees it live, WeChat's budget starts afresh, the bot says nothing.
    events = follow_events(wang)
    reply = wechat(desk_bot).post(text_message(openid, "订单是 261112-405829173664021"))
    assert (reply.status, reply.body) == (200, "success")
    message = next_message(events)
    while message["text"] != "订单是 261112-405829173664021":
        message = next_message(events)
    assert (message["from"], message["ticket"]) == ("user", number)
    assert wang.conversation(number)["wechat_budget"]["left_for_agent"] == 4
    assert wang.say(number, "查到了，已帮您申请平台介入。").status_code == 200

    # Closing: the bot is back and asks for the rating as numbered choices; 「5」 answers it.
    assert wang.close(number).status_code == 200
    api.wait_for_messages_to(openid, 6)
    closing = sent_texts(api, openid)[-1]
    assert closing.startswith("人工客服已结束本次服务") and "5. 5分" in closing
    thanks = wechat(desk_bot).post(text_message(openid, "5"))
    assert "谢谢您的评价" in thanks.body
