"""Two Rasa instances share their channels' state in Redis: WeChat retries, rate limits, choices, socket.io rooms."""
from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from bot.knowledge.texts import reply_text
from bot.launcher import BotServers
from tests.channels.conftest import WeChatServerClient, new_msg_id, new_openid, text_message, user_messages
from tests.channels.fake_wechat_api import FakeWeChatAPI
from tests.channels.test_socketio_persistence import ANSWER_WAIT, Page
from tests.conftest import SHANGHAI_DAYTIME, WECHAT_ENV
from tests.test_cluster import delete_queue, drop_database, say, tracker_events, user_texts
from tests.test_conversations import new_sender, texts

RASA_PORTS = [6405, 6406]
ACTIONS_PORT = 6455
WECHAT_API_PORT = 6490
RATE_LIMIT = 3
REDIS_DB = 1


@pytest.fixture(scope="module")
def cluster(trained_model, tmp_path_factory):
    tag = uuid.uuid4().hex[:10]
    names = {"POSTGRES_DB": f"triage_test_{tag}", "REDIS_KEY_PREFIX": f"test{tag}",
             "RABBITMQ_QUEUE": f"triage_test_events_{tag}"}
    api = FakeWeChatAPI(port=WECHAT_API_PORT, app_id=WECHAT_ENV["WECHAT_APP_ID"],
                        app_secret=WECHAT_ENV["WECHAT_APP_SECRET"])
    env = {"BOT_NOW": SHANGHAI_DAYTIME, **names, **WECHAT_ENV, "WECHAT_API_BASE": api.base_url,
           "REDIS_DB": str(REDIS_DB), "RATE_LIMIT_MESSAGES": str(RATE_LIMIT), "RATE_LIMIT_SECONDS": "60"}
    servers = BotServers(model=trained_model, profile="production", rasa_ports=RASA_PORTS, actions_port=ACTIONS_PORT,
                         log_dir=tmp_path_factory.mktemp("shared-state") / "logs", extra_env=env)
    servers.wechat_api = api
    servers.wechat = [WeChatServerClient(url, WECHAT_ENV["WECHAT_TOKEN"]) for url in servers.urls]
    try:
        with api, servers:
            yield servers
    finally:
        drop_database(names["POSTGRES_DB"])
        delete_queue(names["RABBITMQ_QUEUE"])
        delete_keys(names["REDIS_KEY_PREFIX"])


def delete_keys(prefix: str) -> None:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


def content(reply) -> str:
    assert reply.status == 200 and "xml" in reply.content_type, reply.body
    return ElementTree.fromstring(reply.body).findtext("Content") or ""


def test_a_wechat_retry_landing_on_the_other_instance_is_not_answered_again(cluster):
    first, second = cluster.wechat
    openid, msg_id = new_openid(), new_msg_id()
    body = text_message(openid, "客服电话多少", msg_id)

    answer = content(first.post(body))
    retry = second.post(body)

    assert "400-8822-528" in answer
    assert (retry.status, retry.body) == (200, "success")
    assert [message["text"] for message in user_messages(cluster.urls[1], openid)] == ["客服电话多少"]
    assert cluster.wechat_api.messages_to(openid) == []  # no second answer through the API either


def test_one_msg_id_arriving_at_both_instances_at_once_runs_the_bot_once(cluster):
    for _ in range(3):
        openid, msg_id = new_openid(), new_msg_id()
        body = text_message(openid, "人工客服几点下班", msg_id)
        with ThreadPoolExecutor(max_workers=2) as pool:
            replies = list(pool.map(lambda client: client.post(body), cluster.wechat))
        answers = [reply for reply in replies if reply.body != "success"]
        assert len(answers) == 1 and "23:00" in content(answers[0])
        assert len(user_messages(cluster.urls[0], openid)) == 1


def test_one_senders_rate_limit_holds_across_the_instances(cluster):
    sender = new_sender()
    answers = [say(cluster.urls[n % 2], f"客服电话多少 第{n}次", sender) for n in range(RATE_LIMIT + 1)]

    assert all("400-8822-528" in texts(answer) for answer in answers[:RATE_LIMIT])
    assert texts(answers[RATE_LIMIT]) == reply_text("guard_slow_down")
    assert len(user_texts(tracker_events(cluster.urls[0], sender))) == RATE_LIMIT
    assert "400-8822-528" in texts(say(cluster.urls[0], "客服电话多少", new_sender()))  # others are not slowed


def test_a_numbered_choice_offered_by_one_instance_is_understood_by_the_other(cluster):
    first, second = cluster.wechat
    openid = new_openid()
    greeting = content(first.post(text_message(openid, "你好")))
    assert "1. 退款/退货" in greeting

    refund = content(second.post(text_message(openid, " １ ")))

    assert "查退款" in refund and "订单编号" in refund


@pytest.mark.asyncio
async def test_a_second_tab_on_the_other_instance_sees_the_conversation_live(cluster):
    session = uuid.uuid4().hex
    tab_on_second = Page(cluster.urls[1])
    tab_on_first = Page(cluster.urls[0])
    try:
        assert await tab_on_second.open(session) == []
        await tab_on_first.open(session)
        await tab_on_first.say("客服电话多少", session)

        echoed = await asyncio.wait_for(tab_on_second.echoes.get(), ANSWER_WAIT)
        answer_on_second = await tab_on_second.answer()
        answer_on_first = await tab_on_first.answer()
    finally:
        await tab_on_first.close()
        await tab_on_second.close()
    assert echoed["text"] == "客服电话多少"
    assert "400-8822-528" in answer_on_second["text"]
    assert answer_on_second == answer_on_first
    assert tab_on_first.echoes.empty()  # a tab is not echoed its own message
