"""The conversation database (and Redis) going away: no silent data loss.

The production profile is started as an operator starts it, with the
launcher's CLI (``python -m bot.launcher --profile production ...``), with
PostgreSQL and Redis behind TCP proxies the test cuts and restores
(tests/support/tcp_proxy.py); the machine's servers are never touched.

- Cut before start: Rasa does not open its port, and its log says what it
  waits for; restored, it starts by itself and stores in PostgreSQL.
- Cut while running: every channel answers with the outage message and the
  hotline (REST 503, socket.io, WeChat), the HTTP API answers 503; restored,
  the next message is answered normally and the database holds every message
  that got a normal answer.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from xml.etree import ElementTree
from pathlib import Path
from typing import Any, Dict, List, Tuple

import psycopg2
import pytest
import redis
import socketio

from bot.knowledge.texts import reply_text
from bot.settings import ROOT
from tests.channels.conftest import WeChatServerClient, text_message
from tests.conftest import SHANGHAI_DAYTIME
from tests.support.tcp_proxy import TcpProxy
from tests.test_cluster import delete_queue, drop_database
from tests.test_conversations import new_sender, texts

RASA_PORT = 6505
ACTIONS_PORT = 6555
POSTGRES_PROXY_PORT = 6520
REDIS_PROXY_PORT = 6521
TICKETS_PROXY_PORT = 6524  # the action server's DATABASE_URL: same PostgreSQL, its own proxy
NOWHERE_PORT = 6590  # the WeChat API: only answers slower than 4.5 s would go there
HOTLINE = "400-8822-528"
WECHAT_TOKEN = "outage-test-token"
START_TIMEOUT = 300


@dataclass
class LaunchedBot:
    process: subprocess.Popen
    log: Path
    database: TcpProxy  # PostgreSQL's proxy
    redis: TcpProxy
    tickets: TcpProxy
    names: Dict[str, str]
    password: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{RASA_PORT}"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def launched(trained_model, tmp_path_factory):
    """The production profile from the launcher's CLI, PostgreSQL cut from the start."""
    tag = uuid.uuid4().hex[:10]
    names = {"POSTGRES_DB": f"triage_outage_{tag}", "REDIS_KEY_PREFIX": f"outage{tag}",
             "RABBITMQ_QUEUE": f"triage_outage_events_{tag}"}
    # PostgreSQL here trusts every local user: any password works, and none may reach the log.
    password = f"pw-{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "POSTGRES_PORT": str(POSTGRES_PROXY_PORT),
           "POSTGRES_PASSWORD": password, "REDIS_PORT": str(REDIS_PROXY_PORT), "BOT_NOW": SHANGHAI_DAYTIME,
           "WECHAT_TOKEN": WECHAT_TOKEN, "WECHAT_APP_ID": "wx-outage", "WECHAT_APP_SECRET": "outage-secret",
           "WECHAT_API_BASE": f"http://127.0.0.1:{NOWHERE_PORT}",
           "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{TICKETS_PROXY_PORT}/{names['POSTGRES_DB']}", **names}
    log = tmp_path_factory.mktemp("outage") / "launcher.log"
    database = TcpProxy(target_port=5432, listen_port=POSTGRES_PROXY_PORT)  # not started: cut
    redis_proxy = TcpProxy(target_port=6379, listen_port=REDIS_PROXY_PORT).start()
    tickets = TcpProxy(target_port=5432, listen_port=TICKETS_PROXY_PORT).start()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.launcher", "--profile", "production", "--port", str(RASA_PORT),
             "--actions-port", str(ACTIONS_PORT), "--web-port", "0", "--host", "127.0.0.1",
             "--model", str(trained_model)],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield LaunchedBot(process, log, database, redis_proxy, tickets, names, password)
    finally:
        stop_launcher(process)
        database.stop()
        redis_proxy.stop()
        tickets.stop()
        drop_database(names["POSTGRES_DB"])
        delete_queue_if_any(names["RABBITMQ_QUEUE"])
        delete_redis_keys(names["REDIS_KEY_PREFIX"])


def stop_launcher(process: subprocess.Popen) -> None:
    """Ctrl-C to the launcher's process group (its servers), as in a terminal; SIGKILL if it hangs."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def delete_queue_if_any(name: str) -> None:
    try:
        delete_queue(name)
    except Exception:  # never declared: Rasa did not get that far
        pass


def delete_redis_keys(prefix: str) -> None:
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


# --- talking to the bot ---------------------------------------------------------


def post_json(url: str, payload: Dict[str, Any], timeout: float = 60) -> Tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    return _send(request, timeout)


def get_json(url: str, timeout: float = 60) -> Tuple[int, Any]:
    return _send(urllib.request.Request(url), timeout)


def _send(request: urllib.request.Request, timeout: float) -> Tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def say(bot: LaunchedBot, text: str, sender: str) -> Tuple[int, List[Dict]]:
    return post_json(f"{bot.url}/webhooks/rest/webhook", {"sender": sender, "message": text})


def say_over_socketio(bot: LaunchedBot, session_id: str, text: str, cut_before_saying=None) -> List[str]:
    """Open a page on ``session_id``, say ``text``; the bot's messages within a few seconds."""
    async def talk() -> List[str]:
        client = socketio.AsyncClient(reconnection=False)
        said: asyncio.Queue = asyncio.Queue()
        confirmed = asyncio.get_running_loop().create_future()
        client.on("bot_uttered", lambda message: said.put_nowait(message.get("text", "")))
        client.on("session_history", lambda _history: confirmed.done() or confirmed.set_result(True))
        await client.connect(bot.url, transports=["polling"], socketio_path="/socket.io")
        try:
            await client.emit("session_request", {"session_id": session_id})
            await asyncio.wait_for(confirmed, 30)
            if cut_before_saying:
                cut_before_saying()
            await client.emit("user_uttered", {"message": text, "session_id": session_id})
            messages = [await asyncio.wait_for(said.get(), 60)]
            await asyncio.sleep(2)  # anything more that follows
            while not said.empty():
                messages.append(said.get_nowait())
            return messages
        finally:
            await client.eio.disconnect(abort=True)

    return asyncio.run(talk())


def say_over_wechat(bot: LaunchedBot, text: str) -> str:
    openid = f"o-outage-{uuid.uuid4().hex[:12]}"
    reply = WeChatServerClient(bot.url, WECHAT_TOKEN).post(text_message(openid, text))
    assert reply.status == 200 and "xml" in reply.content_type, reply.body
    return ElementTree.fromstring(reply.body).findtext("Content")


def stored_user_texts(bot: LaunchedBot, sender: str) -> List[str]:
    """The user messages of ``sender`` in PostgreSQL itself (not through the proxy, not through Rasa)."""
    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=bot.names["POSTGRES_DB"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT data FROM events WHERE sender_id = %s AND type_name = 'user' ORDER BY id",
                           (sender,))
            return [json.loads(data)["text"] for (data,) in cursor.fetchall()]
    finally:
        connection.close()


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition, timeout: float, what: str, bot: LaunchedBot) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert bot.process.poll() is None, f"the launcher exited while waiting for {what}:\n{bot.log_text()[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {timeout:.0f}s:\n{bot.log_text()[-3000:]}")


def waiting_lines(bot: LaunchedBot) -> List[str]:
    return [line for line in bot.log_text().splitlines() if "Waiting for the conversation database" in line]


def outage_reply() -> str:
    return reply_text("storage_outage")


# --- the tests (in this order: the first starts the bot the others use) ------------


def test_with_the_database_cut_rasa_waits_without_opening_its_port_and_starts_once_it_is_back(launched):
    wait_for(lambda: len(waiting_lines(launched)) >= 3, START_TIMEOUT, "log line saying Rasa waits", launched)
    # Three tries (1 + 2 s apart) and the port stayed closed: no load balancer sends users to it.
    assert not port_is_open(RASA_PORT)
    first, _, third = waiting_lines(launched)[:3]
    where = f"postgresql 127.0.0.1:{POSTGRES_PROXY_PORT}/{launched.names['POSTGRES_DB']}"
    assert where in first and "Connection refused" in first
    assert re.search(r"trying again in 1 s", first) and re.search(r"trying again in 4 s", third)

    launched.database.restore()
    wait_for(lambda: port_is_open(RASA_PORT), START_TIMEOUT, "Rasa port once the database is back", launched)
    sender = new_sender()
    status, answer = say(launched, "客服电话多少", sender)
    assert status == 200 and HOTLINE in texts(answer)
    # PostgreSQL, not a store in memory: the conversation is in the database.
    assert stored_user_texts(launched, sender) == ["客服电话多少"]
    log = launched.log_text()
    assert "reachable after" in log and "InMemoryTrackerStore" not in log
    assert launched.password not in log


def test_while_the_database_is_gone_every_channel_tells_the_user_and_nothing_is_kept_only_in_memory(launched):
    wait_for(lambda: port_is_open(RASA_PORT), START_TIMEOUT, "a running bot", launched)
    sender = new_sender()
    status, answer = say(launched, "客服电话多少", sender)
    assert status == 200 and HOTLINE in texts(answer)

    launched.database.cut()
    try:
        status, answer = say(launched, "我要退款", sender)
        # Still the usual list of messages, so a widget shows it; the status says it was not kept.
        assert status == 503
        assert answer == [{"recipient_id": sender, "text": outage_reply()}]
        assert HOTLINE in outage_reply()

        status, error = get_json(f"{launched.url}/conversations/{sender}/tracker")
        assert status == 503 and error["reason"] == "StoreUnavailable" and error["code"] == 503
        status, error = post_json(f"{launched.url}/conversations/{sender}/messages",
                                  {"text": "你好", "sender": "user"})
        assert status == 503 and error["reason"] == "StoreUnavailable"

        assert say_over_wechat(launched, "客服电话多少") == outage_reply()
    finally:
        launched.database.restore()

    # A page open before the cut: its message is answered with the outage message.
    try:
        assert say_over_socketio(launched, uuid.uuid4().hex, "客服电话多少",
                                 cut_before_saying=launched.database.cut) == [outage_reply()]
    finally:
        launched.database.restore()

    status, answer = say(launched, "商家热线多少", sender)
    assert status == 200 and outage_reply() not in texts(answer)
    # Every message that got a normal answer is in the database, and only those.
    assert stored_user_texts(launched, sender) == ["客服电话多少", "商家热线多少"]
    status, tracker = get_json(f"{launched.url}/conversations/{sender}/tracker")
    assert status == 200
    assert [event["text"] for event in tracker["events"] if event["event"] == "user"] == ["客服电话多少", "商家热线多少"]


def test_while_redis_is_gone_users_are_told_the_same_way_and_service_resumes(launched):
    wait_for(lambda: port_is_open(RASA_PORT), START_TIMEOUT, "a running bot", launched)
    sender = new_sender()
    launched.redis.cut()
    try:
        status, answer = say(launched, "客服电话多少", sender)
        assert status == 503 and answer == [{"recipient_id": sender, "text": outage_reply()}]
    finally:
        launched.redis.restore()
    status, answer = say(launched, "客服电话多少", sender)
    assert status == 200 and HOTLINE in texts(answer)
    assert stored_user_texts(launched, sender) == ["客服电话多少"]


def test_while_the_ticket_database_is_gone_the_user_gets_the_way_to_a_person_and_the_conversation_is_kept(launched):
    wait_for(lambda: port_is_open(RASA_PORT), START_TIMEOUT, "a running bot", launched)
    sender = new_sender()
    launched.tickets.cut()
    try:
        status, answer = say(launched, "我的工单", sender)
    finally:
        launched.tickets.restore()
    # The action failed (its database is gone): Rasa says how to reach a person, and stores the turn.
    assert status == 200 and texts(answer) == reply_text("action_unavailable")
    status, answer = say(launched, "我的工单", sender)
    # Back by itself: the tickets are looked up again (this shopper has none yet).
    assert status == 200 and "还没有建过工单" in texts(answer)
    assert stored_user_texts(launched, sender) == ["我的工单", "我的工单"]
