"""The production profile: two Rasa instances sharing PostgreSQL, Redis and RabbitMQ; and restarts."""
from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import aio_pika
import psycopg2
import pytest

from bot.launcher import BotServers
from tests.conftest import SHANGHAI_DAYTIME
from tests.test_conversations import new_sender, texts

POSTGRES = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
ORDER = "261117-228410735906618"


def say(url: str, text: str, sender: str) -> List[Dict]:
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def tracker_events(url: str, sender: str) -> List[Dict]:
    with urllib.request.urlopen(f"{url}/conversations/{sender}/tracker", timeout=30) as response:
        return json.loads(response.read())["events"]


def user_texts(events: List[Dict]) -> List[str]:
    return [event["text"] for event in events if event["event"] == "user"]


@pytest.fixture(scope="module")
def cluster(trained_model, tmp_path_factory):
    tag = uuid.uuid4().hex[:10]
    names = {"POSTGRES_DB": f"triage_test_{tag}", "REDIS_KEY_PREFIX": f"test{tag}",
             "RABBITMQ_QUEUE": f"triage_test_events_{tag}"}
    servers = BotServers(model=trained_model, profile="production", rasa_ports=[5605, 5606], actions_port=5655,
                         log_dir=tmp_path_factory.mktemp("cluster") / "logs",
                         extra_env={"BOT_NOW": SHANGHAI_DAYTIME, **names})
    servers.names = names
    try:
        with servers:
            yield servers
    finally:
        drop_database(names["POSTGRES_DB"])
        delete_queue(names["RABBITMQ_QUEUE"])


def drop_database(name: str) -> None:
    connection = psycopg2.connect(**POSTGRES)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    connection.close()


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def delete_queue(name: str) -> None:
    async def delete() -> None:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)

    asyncio.run(delete())


def drain_queue(name: str) -> List[Dict]:
    """Every message in the queue, as a consumer reads it."""
    async def drain() -> List[Dict]:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(name, durable=True, passive=True)
            messages = []
            while True:
                message = await queue.get(no_ack=True, fail=False)
                if message is None:
                    return messages
                messages.append(json.loads(message.body))

    return asyncio.run(drain())


def test_a_conversation_alternating_between_instances_continues_seamlessly(cluster):
    first, second = cluster.urls
    sender = new_sender()
    assert "请把订单编号发给我" in texts(say(first, "我要退款", sender))
    assert "退款申请已提交" in texts(say(second, ORDER, sender))
    assert "400-8822-528" in texts(say(first, "客服电话多少", sender))
    assert tracker_events(first, sender) == tracker_events(second, sender)
    assert user_texts(tracker_events(second, sender)) == ["我要退款", ORDER, "客服电话多少"]


def test_messages_arriving_at_both_instances_at_once_are_each_processed_exactly_once(cluster):
    sender = new_sender()
    messages = [f"客服电话多少 第{n}次" for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda pair: say(cluster.urls[pair[0] % 2], pair[1], sender), enumerate(messages)))
    assert all("400-8822-528" in texts(answer) for answer in answers)
    events = tracker_events(cluster.urls[0], sender)
    assert sorted(user_texts(events)) == sorted(messages)
    # One message at a time: every user message is answered before the next one is read.
    kinds = [event["event"] for event in events if event["event"] in ("user", "bot")]
    assert kinds == ["user", "bot"] * len(messages)


def test_every_event_reaches_the_rabbitmq_queue(cluster):
    sender = new_sender()
    say(cluster.urls[0], "你好", sender)
    say(cluster.urls[1], "人工客服几点下班", sender)
    say(cluster.urls[0], "我的卡号6222021234567894 要不要告诉客服", sender)
    published = [event for event in drain_queue(cluster.names["RABBITMQ_QUEUE"]) if event.get("sender_id") == sender]
    stored = tracker_events(cluster.urls[0], sender)
    assert [event["event"] for event in published] == [event["event"] for event in stored]
    # What the broker carries is masked like everything stored.
    assert user_texts(published) == ["你好", "人工客服几点下班", "我的卡号6222 **** **** 7894 要不要告诉客服"]


def test_an_instance_killed_mid_conversation_the_other_carries_on(cluster):
    first, second = cluster.urls
    sender = new_sender()
    say(first, "我要退款", sender)
    cluster.kill_instance(cluster.rasa_ports[0])
    assert "退款申请已提交" in texts(say(second, ORDER, sender))
    assert user_texts(tracker_events(second, sender)) == ["我要退款", ORDER]


def test_the_embedded_profile_keeps_conversations_across_a_restart(trained_model, tmp_path):
    settings = dict(model=trained_model, rasa_port=5705, actions_port=5755, tracker_db=tmp_path / "tracker.db",
                    log_dir=tmp_path / "logs", extra_env={"DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}"})
    sender = new_sender()
    with BotServers(**settings) as bot:
        assert "请把订单编号发给我" in texts(say(bot.url, "我要退款", sender))
    with BotServers(**settings) as bot:
        assert "退款申请已提交" in texts(say(bot.url, ORDER, sender))
        assert user_texts(tracker_events(bot.url, sender)) == ["我要退款", ORDER]
