"""`make run` and `make cluster` as an operator runs them: crashes are survived, SIGTERM and Ctrl-C stop cleanly.

Each test starts `python -m bot.launcher` (what the make targets run) as a
child, finds a server by the port it listens on, and kills it with SIGKILL as
a crash or the OOM killer would.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from bot.settings import ROOT
from tests.conftest import SHANGHAI_DAYTIME
from tests.test_cluster import delete_queue, drop_database

HOTLINE = "400-8822-528"
ASKS_FOR_ORDER = "请把订单编号发给我"
ORDER = "261117-228410735906618"
STOP_WITHIN = 15


class Launcher:
    """`python -m bot.launcher ARGS` in the background, its output in a file."""

    def __init__(self, args: List[str], env: Dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.launcher", *args], cwd=ROOT, env={**os.environ, **env},
            stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def wait_until_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the launcher exited: {self.output()[-3000:]}"
            if "Bot ready" in self.output():
                return
            time.sleep(0.5)
        raise TimeoutError(f"no 'Bot ready' within {timeout}s: {self.output()[-3000:]}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop_with(self, signum: int) -> tuple:
        """Send ``signum``; (exit status, seconds until the launcher was gone)."""
        started = time.monotonic()
        self.process.send_signal(signum)
        try:
            status = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return status, time.monotonic() - started

    def ensure_stopped(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def pid_listening_on(port: int) -> Optional[int]:
    """The process that listens on ``port``, as `ss -ltnp` shows it to an operator."""
    listing = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    found = re.search(r"pid=(\d+)", listing)
    return int(found.group(1)) if found else None


def crash(port: int) -> int:
    pid = pid_listening_on(port)
    assert pid, f"nothing listens on {port}"
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_for_new_process(port: int, old_pid: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = pid_listening_on(port)
        if pid and pid != old_pid:
            return
        time.sleep(0.5)
    raise TimeoutError(f"nothing new listens on {port} within {timeout}s")


def say(base: str, sender: str, text: str, timeout: float = 120) -> List[Dict]:
    request = urllib.request.Request(f"{base}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def texts(messages: List[Dict]) -> str:
    return "\n".join(message.get("text", "") for message in messages)


def user_texts(base: str, sender: str) -> List[str]:
    with urllib.request.urlopen(f"{base}/conversations/{sender}/tracker", timeout=30) as response:
        events = json.loads(response.read())["events"]
    return [event["text"] for event in events if event["event"] == "user"]


def is_in_order_within(wanted: List[str], stored: List[str]) -> bool:
    """Every message of ``wanted`` is in ``stored``, in the same order (a failed one may sit between)."""
    remaining = iter(stored)
    return all(any(text == kept for kept in remaining) for text in wanted)


def ports_free(*ports: int) -> bool:
    return not any(pid_listening_on(port) for port in ports)


def wait_until_answering(base: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if say(base, f"probe-{uuid.uuid4().hex[:6]}", "你好", timeout=10):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{base} did not answer within {timeout}s")


# ------------------------------------------------------------------ make run

RUN_PORTS = dict(rasa=5805, actions=5855, web=5880)


@pytest.fixture(scope="module")
def make_run(trained_model, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("make-run")
    launcher = Launcher(
        ["--port", str(RUN_PORTS["rasa"]), "--actions-port", str(RUN_PORTS["actions"]),
         "--web-port", str(RUN_PORTS["web"]), "--host", "127.0.0.1",
         "--tracker-db", str(scratch / "tracker.db"), "--run-dir", str(scratch / "run")],
        {"BOT_NOW": SHANGHAI_DAYTIME, "DATABASE_URL": f"sqlite:///{scratch / 'service.db'}"},
        scratch / "launcher.log")
    try:
        launcher.wait_until_ready()
        yield launcher
    finally:
        launcher.ensure_stopped()


def test_the_action_server_crashes_the_bot_still_gives_the_hotline_and_is_whole_again_soon(make_run):
    base, sender = f"http://127.0.0.1:{RUN_PORTS['rasa']}", f"crash-{uuid.uuid4().hex[:8]}"
    killed = crash(RUN_PORTS["actions"])
    answer = texts(say(base, sender, "我要退款"))
    assert HOTLINE in answer  # the Rasa server kept running and points to a person
    wait_for_new_process(RUN_PORTS["actions"], killed)
    deadline = time.monotonic() + 60
    while ASKS_FOR_ORDER not in texts(say(base, f"{sender}-after", "我要退款")):
        assert time.monotonic() < deadline, "the restarted action server never took the case"
        time.sleep(1)
    assert make_run.process.poll() is None
    assert "exited: actions (terminated by SIGKILL" in make_run.output()


def test_the_rasa_server_crashes_it_comes_back_with_the_conversation(make_run):
    base, sender = f"http://127.0.0.1:{RUN_PORTS['rasa']}", f"rasa-crash-{uuid.uuid4().hex[:8]}"
    assert ASKS_FOR_ORDER in texts(say(base, sender, "我要退款"))
    killed = crash(RUN_PORTS["rasa"])
    wait_for_new_process(RUN_PORTS["rasa"], killed)
    wait_until_answering(base)
    assert "退款申请已提交" in texts(say(base, sender, ORDER))
    assert user_texts(base, sender) == ["我要退款", ORDER]
    assert make_run.process.poll() is None


def test_sigterm_stops_everything_within_fifteen_seconds_and_exits_0(make_run):
    status, seconds = make_run.stop_with(signal.SIGTERM)
    assert status == 0
    assert seconds < STOP_WITHIN
    assert ports_free(*RUN_PORTS.values())


# ------------------------------------------------------------------ make cluster

CLUSTER_PORTS = dict(gateway=5900, rasa=5905, rasa2=5906, actions=5955, web=5980)


@pytest.fixture(scope="module")
def make_cluster(trained_model, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("make-cluster")
    tag = uuid.uuid4().hex[:10]
    names = {"POSTGRES_DB": f"triage_test_{tag}", "REDIS_KEY_PREFIX": f"test{tag}",
             "RABBITMQ_QUEUE": f"triage_test_events_{tag}"}
    launcher = Launcher(
        ["--profile", "production", "--instances", "2", "--port", str(CLUSTER_PORTS["rasa"]),
         "--actions-port", str(CLUSTER_PORTS["actions"]), "--web-port", str(CLUSTER_PORTS["web"]),
         "--gateway-port", str(CLUSTER_PORTS["gateway"]), "--host", "127.0.0.1", "--run-dir", str(scratch / "run")],
        {"BOT_NOW": SHANGHAI_DAYTIME, **names}, scratch / "launcher.log")
    try:
        launcher.wait_until_ready()
        yield launcher
    finally:
        launcher.ensure_stopped()
        drop_database(names["POSTGRES_DB"])
        delete_queue(names["RABBITMQ_QUEUE"])


def test_the_gateway_is_one_port_for_rest_the_api_and_the_chat_page(make_cluster):
    gateway, sender = f"http://127.0.0.1:{CLUSTER_PORTS['gateway']}", f"gw-{uuid.uuid4().hex[:8]}"
    assert HOTLINE in texts(say(gateway, sender, "客服电话多少"))
    assert user_texts(gateway, sender) == ["客服电话多少"]
    with urllib.request.urlopen(f"{gateway}/", timeout=10) as page:
        assert "widget.js" in page.read().decode("utf-8")
    with urllib.request.urlopen(f"{gateway}/socket.io/?EIO=4&transport=polling", timeout=10) as handshake:
        assert b'"sid"' in handshake.read()


def test_an_instance_killed_behind_the_gateway_loses_no_message_and_no_history(make_cluster):
    gateway = f"http://127.0.0.1:{CLUSTER_PORTS['gateway']}"
    script = ["我要退款", ORDER, "物流到哪了", "客服电话多少", "谢谢"] * 2
    senders = [f"failover-{n}-{uuid.uuid4().hex[:6]}" for n in range(6)]
    answered: Dict[str, List[str]] = {sender: [] for sender in senders}
    failed: List[tuple] = []
    killed_at: List[float] = []

    def converse(sender: str) -> None:
        for text in script:
            sent = time.monotonic()
            try:
                if say(gateway, sender, text):
                    answered[sender].append(text)
                else:
                    failed.append((sender, text, sent, "no answer"))
            except (urllib.error.URLError, ConnectionError, OSError) as error:
                failed.append((sender, text, sent, repr(error)))
            time.sleep(0.3)

    threads = [threading.Thread(target=converse, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    time.sleep(2)
    killed = crash(CLUSTER_PORTS["rasa"])
    killed_at.append(time.monotonic())
    for thread in threads:
        thread.join(timeout=300)

    # Not even a message in flight on the killed instance fails: the gateway
    # sends it to the other instance, where it waits at most TICKET_LOCK_LIFETIME
    # for the dead instance's lock on the conversation.
    assert failed == [], f"killed at {killed_at[0]}: {failed}"
    for sender in senders:
        assert len(answered[sender]) == len(script)
        assert is_in_order_within(answered[sender], user_texts(gateway, sender))
    # supervisord brought the instance back, and the gateway uses it again.
    wait_for_new_process(CLUSTER_PORTS["rasa"], killed)
    wait_until_answering(f"http://127.0.0.1:{CLUSTER_PORTS['rasa']}")
    assert make_cluster.process.poll() is None


def test_ctrl_c_stops_the_cluster_within_fifteen_seconds_and_exits_0(make_cluster):
    status, seconds = make_cluster.stop_with(signal.SIGINT)
    assert status == 0
    assert seconds < STOP_WITHIN
    assert ports_free(*CLUSTER_PORTS.values())
