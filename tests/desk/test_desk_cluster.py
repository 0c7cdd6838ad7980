"""The desk under the production profile (`make cluster`): agents on any desk process, users' sockets on any instance.

Two Rasa instances share PostgreSQL, Redis and RabbitMQ behind nginx; a second
desk process (another web server) runs beside the launcher's. A user's socket
is held by the second Rasa instance while the agent's desk talks to the first:
Rasa's socket.io server reaches the socket through python-socketio's Redis
client manager. Claims and the queue timeout are decided in PostgreSQL.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from bot.launcher import BotServers
from bot.launcher.programs import postgres_url
from bot.launcher.servers import answers, ensure_port_free
from tests.channels.test_socketio_persistence import ANSWER_WAIT, Page
from tests.desk.conftest import DeskClient, desk_env, new_sender, rest_say, ticket_in, tracker, wait_until
from tests.test_cluster import delete_queue, drop_database
from tests.test_cluster_shared_state import delete_keys

RASA_PORTS = [int(os.environ.get("TEST_DESK_CLUSTER_RASA_PORT", 5321)),
              int(os.environ.get("TEST_DESK_CLUSTER_RASA_PORT_2", 5322))]
ACTIONS_PORT = int(os.environ.get("TEST_DESK_CLUSTER_ACTIONS_PORT", 5323))
WEB_PORT = int(os.environ.get("TEST_DESK_CLUSTER_WEB_PORT", 5324))
SECOND_DESK_PORT = int(os.environ.get("TEST_DESK_CLUSTER_WEB_PORT_2", 5325))
GATEWAY_PORT = int(os.environ.get("TEST_DESK_CLUSTER_GATEWAY_PORT", 5320))


@pytest.fixture(scope="module")
def cluster(trained_model, tmp_path_factory, wechat_api):
    tag = uuid.uuid4().hex[:10]
    names = {"POSTGRES_DB": f"triage_test_{tag}", "REDIS_KEY_PREFIX": f"test{tag}",
             "RABBITMQ_QUEUE": f"triage_test_events_{tag}"}
    scratch = tmp_path_factory.mktemp("desk-cluster")
    env = {**desk_env(""), **names, "DESK_AGENTS_FILE": str(scratch / "no-agents-file.yml")}
    env.pop("DATABASE_URL")  # the production profile's: the conversations' PostgreSQL
    servers = BotServers(model=trained_model, profile="production", rasa_ports=RASA_PORTS, actions_port=ACTIONS_PORT,
                         web_port=WEB_PORT, gateway_port=GATEWAY_PORT, log_dir=scratch / "logs", extra_env=env)
    second_desk = None
    try:
        with servers:
            second_desk = start_second_desk(servers, scratch)
            servers.second_desk_url = f"http://127.0.0.1:{SECOND_DESK_PORT}"
            servers.database = sa.create_engine(postgres_url(servers.layout.environment()), future=True)
            yield servers
            servers.database.dispose()
    finally:
        if second_desk is not None:
            second_desk.terminate()
            second_desk.wait(timeout=30)
        drop_database(names["POSTGRES_DB"])
        delete_queue(names["RABBITMQ_QUEUE"])
        delete_keys(names["REDIS_KEY_PREFIX"])


def start_second_desk(servers: BotServers, scratch) -> subprocess.Popen:
    """Another web server with the desk, on the same database, talking to the first Rasa instance directly."""
    ensure_port_free(SECOND_DESK_PORT)
    log = (scratch / "second-desk.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.web.server", "--host", "127.0.0.1", "--port", str(SECOND_DESK_PORT),
         "--rasa-port", str(RASA_PORTS[0])],
        env=servers.layout.environment(), stdout=log, stderr=subprocess.STDOUT)
    wait_until(lambda: answers(f"http://127.0.0.1:{SECOND_DESK_PORT}/agent/login"), timeout=60)
    return process


@pytest.mark.asyncio
async def test_an_agent_on_one_desk_reaches_a_socket_held_by_the_other_instance(cluster):
    user_instance = cluster.urls[1]
    session = uuid.uuid4().hex
    page = Page(user_instance)
    await page.open(session)
    try:
        await page.say("转人工", session)
        answers = await page.answers_until("T2026")
        number = ticket_in(answers)

        # Agents log in on different desk processes; only one gets the conversation.
        wang = await asyncio.to_thread(lambda: DeskClient(cluster.second_desk_url, "wang").login())
        li = await asyncio.to_thread(lambda: DeskClient(f"http://127.0.0.1:{GATEWAY_PORT}", "li").login())
        assert (await asyncio.to_thread(wang.waiting, number))["channel"] == "socketio"
        claimed = await asyncio.to_thread(wang.claim, number)
        assert claimed.status_code == 200, claimed.text
        assert (await asyncio.to_thread(li.claim, number)).status_code == 409

        # The desk spoke to the first instance; the user's socket is on the second.
        assert "人工客服 小王 已接入" in (await page.answer())["text"]
        assert (await asyncio.to_thread(wang.say, number, "您好，我是小王。")).status_code == 200
        assert (await page.answer())["text"] == "您好，我是小王。"

        await page.say("我的快递三天没动了", session)
        await asyncio.to_thread(wait_until, lambda: wang.conversation(number)["transcript"][-1]["text"]
                                == "我的快递三天没动了")

        assert (await asyncio.to_thread(wang.close, number)).status_code == 200
        closing = await page.answer()
        assert "人工客服已结束本次服务" in closing["text"] and len(closing["quick_replies"]) == 5
    finally:
        await page.close()


def test_two_desk_processes_claiming_at_once_one_wins(cluster):
    number = ticket_in(rest_say(cluster, new_sender("cluster"), "转人工"))
    clients = [DeskClient(cluster.second_desk_url, "wang").login(),
               DeskClient(f"http://127.0.0.1:{GATEWAY_PORT}", "li").login()]
    start = threading.Barrier(2)
    codes = {}

    def claim(client):
        start.wait()
        codes[client.agent_id] = client.claim(number).status_code

    threads = [threading.Thread(target=claim, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes.values()) == [200, 409]
    winner = next(client for client in clients if codes[client.agent_id] == 200)
    assert winner.close(number).status_code == 200


def test_two_desk_processes_tell_an_overdue_user_once(cluster):
    sender = new_sender("cluster")
    number = ticket_in(rest_say(cluster, sender, "转人工"))
    with cluster.database.begin() as connection:
        connection.execute(sa.text("UPDATE service_tickets SET created_at = created_at - interval '11 minutes' "
                                   "WHERE number = :n"), {"n": number})

    def told():
        return [event for event in tracker(cluster, sender)["events"]
                if event["event"] == "bot" and "人工客服暂时都在忙" in (event.get("text") or "")]

    wait_until(told)
    time.sleep(3)  # both desk processes sweep every second
    assert len(told()) == 1
