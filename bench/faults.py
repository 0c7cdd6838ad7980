"""Fault benchmark: what users notice while parts of the production cluster fail.

`make cluster` as an operator runs it (`python -m bot.launcher --profile
production --instances 2`, nginx in front), its PostgreSQL reached through a
TCP proxy this script controls. Ten conversations keep talking through the
gateway (a message every ~0.5 s each) while, one after the other:

1. the action server is killed (SIGKILL, found by its port);
2. one Rasa instance is killed the same way;
3. PostgreSQL is cut off for 10 s (every connection dropped, new ones refused).

For every message it records the answer. In the end it counts the messages
answered normally, answered with the outage/hotline message, failed (an HTTP
error: only a message in flight on a dying instance may), and lost: answered
normally but missing from the stored conversation (must be 0). For each fault
it gives the seconds from the fault (for the database, from its return) until
full service: a new refund case gets the order question again.

    python bench/faults.py            # make bench-faults; bench/results/faults.json
"""
from __future__ import annotations

import argparse
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mix import SERVER_ENV  # noqa: E402
from bench.scale_servers import production_store_names, remove_production_stores  # noqa: E402
from bot.settings import ROOT  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402

GATEWAY, RASA, ACTIONS, PROXY = 5400, 5405, 5455, 5432 + 10000
SCRIPT = ["我要退款", "261117-228410735906618", "物流到哪了", "客服电话多少", "我要投诉", "快递一直不动", "谢谢"]
CONVERSATIONS = 10
THINK_SECONDS = 0.5
HOTLINE = "400-8822-528"
ASKS_FOR_ORDER = "请把订单编号发给我"
RESULTS = ROOT / "bench" / "results"


@dataclass
class Sent:
    sender: str
    text: str
    at: float
    status: int = 0
    reply: str = ""
    seconds: float = 0.0

    @property
    def normal(self) -> bool:
        return self.status == 200 and bool(self.reply)

    @property
    def degraded(self) -> bool:
        return self.status in (200, 503) and HOTLINE in self.reply and not self.normal


@dataclass
class Run:
    sent: List[Sent] = field(default_factory=list)
    faults: List[Dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, sent: Sent) -> None:
        with self.lock:
            self.sent.append(sent)


def post(base: str, sender: str, text: str, timeout: float = 60) -> tuple:
    request = urllib.request.Request(f"{base}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _texts(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _texts(error.read())
    except (urllib.error.URLError, ConnectionError, OSError) as error:
        return 0, repr(error)


def _texts(body: bytes) -> str:
    try:
        return "\n".join(message.get("text", "") for message in json.loads(body or b"[]"))
    except (ValueError, AttributeError):
        return ""


def converse(base: str, sender: str, run: Run, stop: threading.Event) -> None:
    turn = 0
    while not stop.is_set():
        text = SCRIPT[turn % len(SCRIPT)]
        sent = Sent(sender, text, time.monotonic())
        sent.status, sent.reply = post(base, sender, text)
        sent.seconds = round(time.monotonic() - sent.at, 3)
        run.record(sent)
        turn += 1
        stop.wait(THINK_SECONDS)


def pid_listening_on(port: int) -> Optional[int]:
    listing = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    found = re.search(r"pid=(\d+)", listing)
    return int(found.group(1)) if found else None


def until_full_service(base: str, since: float, timeout: float = 300) -> float:
    """Seconds from ``since`` until a new refund case is taken normally."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, reply = post(base, f"probe-{uuid.uuid4().hex[:8]}", "我要退款", timeout=30)
        if status == 200 and ASKS_FOR_ORDER in reply:
            return round(time.monotonic() - since, 1)
        time.sleep(0.5)
    raise TimeoutError("no full service within the timeout")


def until_listening_again(port: int, old_pid: int, since: float, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = pid_listening_on(port)
        if pid and pid != old_pid:
            return round(time.monotonic() - since, 1)
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port} again")


def kill_fault(run: Run, name: str, port: int, base: str) -> None:
    pid = pid_listening_on(port)
    assert pid, f"nothing listens on {port}"
    os.kill(pid, signal.SIGKILL)
    at = time.monotonic()
    full = until_full_service(base, at)  # through the gateway, as users see it
    restarted = until_listening_again(port, pid, at)
    run.faults.append({"fault": name, "at": at, "restarted_after_s": restarted, "full_service_after_s": full})
    print(f"  {name}: restarted after {restarted} s, full service after {full} s", flush=True)


def database_fault(run: Run, proxy: TcpProxy, base: str, seconds: float) -> None:
    proxy.cut()
    at = time.monotonic()
    time.sleep(seconds)
    proxy.restore()
    back = time.monotonic()
    full = until_full_service(base, back)
    run.faults.append({"fault": f"PostgreSQL cut for {seconds:.0f} s", "at": at, "restored_at": back,
                       "full_service_after_s": full})
    print(f"  PostgreSQL cut {seconds:.0f} s: full service {full} s after it came back", flush=True)


def stored_user_texts(base: str, sender: str) -> List[str]:
    with urllib.request.urlopen(f"{base}/conversations/{sender}/tracker", timeout=30) as response:
        events = json.loads(response.read())["events"]
    return [event["text"] for event in events if event["event"] == "user"]


def count_lost(run: Run, base: str) -> List[Dict[str, Any]]:
    """Messages answered normally that are not in their stored conversation."""
    lost = []
    for sender in sorted({sent.sender for sent in run.sent}):
        stored = iter(stored_user_texts(base, sender))
        for sent in (s for s in run.sent if s.sender == sender and s.normal):
            if not any(text == sent.text for text in stored):
                lost.append(asdict(sent))
    return lost


def summary(run: Run, lost: List[Dict[str, Any]]) -> Dict[str, Any]:
    normal = sum(sent.normal for sent in run.sent)
    degraded = sum(sent.degraded for sent in run.sent)
    failed = [asdict(sent) for sent in run.sent if not sent.normal and not sent.degraded]
    return {
        "conversations": CONVERSATIONS,
        "messages": len(run.sent),
        "answered": normal + degraded,
        "answered_normally": normal,
        "answered_with_the_hotline": degraded,
        "failed": len(failed),
        "failed_messages": failed,
        "lost": len(lost),
        "lost_messages": lost,
        "faults": run.faults,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cut-seconds", type=float, default=10)
    parser.add_argument("--settle-seconds", type=float, default=8, help="normal traffic before and between faults")
    args = parser.parse_args()
    names = production_store_names()
    base = f"http://127.0.0.1:{GATEWAY}"
    log_file = RESULTS / "faults-cluster.log"
    RESULTS.mkdir(parents=True, exist_ok=True)
    with TcpProxy(listen_port=PROXY, target_port=5432) as proxy:
        env = {**os.environ, **SERVER_ENV, **names, "POSTGRES_PORT": str(PROXY)}
        launcher = subprocess.Popen(
            [sys.executable, "-m", "bot.launcher", "--profile", "production", "--instances", "2",
             "--port", str(RASA), "--actions-port", str(ACTIONS), "--gateway-port", str(GATEWAY),
             "--web-port", "0", "--host", "127.0.0.1", "--run-dir", str(RESULTS / "faults-run")],
            cwd=ROOT, env=env, stdout=log_file.open("wb"), stderr=subprocess.STDOUT)
        try:
            wait_for_banner(log_file, launcher)
            run = exercise(base, proxy, args)
            lost = count_lost(run, base)
        finally:
            launcher.send_signal(signal.SIGTERM)
            launcher.wait(timeout=60)
            remove_production_stores(names)
    result = summary(run, lost)
    (RESULTS / "faults.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(report(result))
    return 0 if result["lost"] == 0 else 1


def wait_for_banner(log_file: Path, launcher: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while "Bot ready" not in log_file.read_text(errors="replace"):
        if launcher.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the cluster did not start; see {log_file}")
        time.sleep(1)


def exercise(base: str, proxy: TcpProxy, args: argparse.Namespace) -> Run:
    run, stop = Run(), threading.Event()
    senders = [f"fault-{n}-{uuid.uuid4().hex[:6]}" for n in range(CONVERSATIONS)]
    threads = [threading.Thread(target=converse, args=(base, sender, run, stop), daemon=True) for sender in senders]
    print(f"{CONVERSATIONS} conversations through {base}", flush=True)
    for thread in threads:
        thread.start()
    time.sleep(args.settle_seconds)
    kill_fault(run, "action server killed", ACTIONS, base)
    time.sleep(args.settle_seconds)
    kill_fault(run, "Rasa instance killed", RASA, base)
    time.sleep(args.settle_seconds)
    database_fault(run, proxy, base, args.cut_seconds)
    time.sleep(args.settle_seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return run


def report(result: Dict[str, Any]) -> str:
    lines = [
        f"| messages | answered | of them with the hotline | failed | lost |",
        "|---|---|---|---|---|",
        f"| {result['messages']} | {result['answered']} | {result['answered_with_the_hotline']} | "
        f"{result['failed']} | {result['lost']} |",
        "",
        "| fault | process back after | full service after |",
        "|---|---|---|",
    ]
    for fault in result["faults"]:
        back = f"{fault['restarted_after_s']} s" if "restarted_after_s" in fault else "-"
        since = "its return" if "restored_at" in fault else "the fault"
        lines.append(f"| {fault['fault']} | {back} | {fault['full_service_after_s']} s after {since} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
