"""Scale-out benchmark: one and two Rasa instances on the production profile, against stock Rasa.

Over the REST channel with the action server in the loop, on the production
profile (PostgreSQL tracker store, Redis lock store, RabbitMQ events) for both
one and two instances, so the instance count is the only difference. Parts:

  train     `rasa train --force` of config.yml into a temporary directory: wall
            time, peak RSS of the process tree, model size
  startup   one instance: from process start to the first REST answer
  scale     1, 10, 50 concurrent conversations, one instance and two (with two,
            a conversation's messages alternate between the instances), each in
            two modes: "typing" (each person pauses 0.5-1.5 s before the next
            message, as in bench/latency.py) and "load" (no pauses: capacity);
            p50/p95/p99, messages/s, CPU used by each process
  long      one conversation of 200 turns: turns 1-20 against 181-200
            (the same 20 messages, only the conversation's length differs)
  stock     the stock configuration (bench/stock/: the pipeline and policies
            `rasa init` writes, trained on our data and domain, Rasa's SQL
            tracker store on SQLite, in-memory lock store), same workload:
            10 conversations (typing and load) and the long conversation
  embedded  our configuration on the embedded profile (SQLite, in-process
            locks), same workload as stock: the gain with the same kind of stores

Each production run gets its own PostgreSQL database, Redis key prefix and
RabbitMQ queue, removed afterwards. The stock model is trained into
bench/.cache/ and reused while data/, domain.yml and bench/stock/config.yml are
unchanged. CPU time per process comes from /proc, so the tables show where the
time goes and how much other work ran meanwhile (a run disturbed by other work
is measured again). Writes bench/results/scale.json and prints Markdown tables
for the README (also to bench/results/scale.md; `--render` prints them again
from the JSON).

    .venv/bin/python bench/scale.py            # everything (about 17 minutes, plus 4 to train the stock model)
    .venv/bin/python bench/scale.py --sticky --wait-for-quiet 900   # as measured for the README
    .venv/bin/python bench/scale.py --quick    # about 5 minutes: fewer messages, no training
    .venv/bin/python bench/scale.py --parts scale --instances 2 --conversations 10,50
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
STOCK = BENCH / "stock"
CACHE = BENCH / ".cache"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bot.launcher import VENV_BIN, BotServers  # noqa: E402
from latency import MESSAGES, SERVER_ENV, describe  # noqa: E402


RASA_PORTS = [5805, 5806]
ACTIONS_PORT = 5855
STOCK_RASA_PORT, STOCK_ACTIONS_PORT = 5815, 5865
POSTGRES = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
REDIS = dict(host="127.0.0.1", port=6379, db=1)
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
CORES = os.cpu_count() or 1
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- /proc

def _processes() -> Dict[int, Dict[str, Any]]:
    """Every process: parent, CPU ticks, RSS, name and command line (from /proc)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                raw = stat.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        name, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
        table[int(entry)] = {"ppid": int(rest[1]), "ticks": int(rest[11]) + int(rest[12]),
                             "rss": int(rest[21]) * PAGE, "name": name, "command": command}
    return table


def _descendants(table: Dict[int, Dict[str, Any]], root: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for pid, info in table.items():
        children.setdefault(info["ppid"], []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _roles(table: Dict[int, Dict[str, Any]]) -> Dict[int, str]:
    """Which part of the system each process is: ours are told apart by port."""
    ours = set(_descendants(table, os.getpid()))
    roles = {}
    for pid, info in table.items():
        command, name = info["command"], info["name"]
        if pid == os.getpid():
            role = "load generator"
        elif pid in ours and "run actions" in command:
            role = "action server"
        elif pid in ours and " run " in f" {command} ":
            words = command.split()
            port = int(words[words.index("--port") + 1]) if "--port" in words else 0
            role = "rasa, 2nd instance" if port == RASA_PORTS[1] else "rasa"
        elif name == "postgres":
            role = "postgresql"
        elif name == "redis-server":
            role = "redis"
        elif name in ("beam.smp", "epmd", "erl_child_setup", "inet_gethost") or "rabbit" in command:
            role = "rabbitmq"
        else:
            role = "other"
        roles[pid] = role
    return roles


def _system_ticks() -> Dict[str, int]:
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return {"busy": sum(fields[:8]) - idle, "total": sum(fields[:8])}


class CpuMeter:
    """CPU time per part of the system (rasa instances, action server, stores, load generator)."""

    def __enter__(self) -> "CpuMeter":
        self.before, self.system_before = _processes(), _system_ticks()
        return self

    def __exit__(self, *exc_info) -> None:
        after, system_after = _processes(), _system_ticks()
        roles = _roles(after)
        self.seconds: Dict[str, float] = {}
        for pid, info in after.items():
            before = self.before.get(pid)
            ticks = info["ticks"] - (before["ticks"] if before and before["name"] == info["name"] else 0)
            self.seconds[roles[pid]] = self.seconds.get(roles[pid], 0.0) + ticks / TICK
        total = system_after["total"] - self.system_before["total"]
        busy = system_after["busy"] - self.system_before["busy"]
        self.busy_share = busy / total if total else 0.0
        # Other work: everything busy that is not the bot, its stores or the load generator,
        # including processes that started and ended during the run.
        ours = sum(seconds for role, seconds in self.seconds.items() if role != "other")
        self.seconds["other"] = max(0.0, busy / TICK - ours)
        self.other_share = self.seconds["other"] * TICK / total if total else 0.0

    def report(self, messages: int) -> Dict[str, Any]:
        per_message = {role: round(seconds * 1000 / messages, 1)
                       for role, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]) if seconds > 0}
        # "other": processes that are not part of the bot (other work on the machine).
        return {"busy_percent": round(100 * self.busy_share, 1), "cpu_ms_per_message": per_message,
                "cpu_ms_per_message_total": round(sum(v for k, v in per_message.items() if k != "other"), 1),
                "other_cpu_ms_per_message": per_message.get("other", 0.0),
                "other_busy_percent": round(100 * self.other_share, 1)}


def tree_rss(root: int) -> int:
    try:
        import psutil  # type: ignore
    except ImportError:
        table = _processes()
        return sum(table[pid]["rss"] for pid in _descendants(table, root) if pid in table)
    try:
        process = psutil.Process(root)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
    except psutil.Error:
        return 0


def loadavg() -> List[float]:
    return [round(value, 2) for value in os.getloadavg()]


def foreign_rasa() -> List[str]:
    """`rasa run` processes that are not ours (other bots, tests, benchmarks)."""
    table = _processes()
    ours = set(_descendants(table, os.getpid()))
    return [f"{pid} {info['command'][:100]}" for pid, info in table.items()
            if pid not in ours and " rasa run" in f" {info['command']}".replace("/rasa run", " rasa run")]


# (timeout, max load) from --wait-for-quiet / --max-load; 0: do not wait.
QUIET = {"timeout": 0.0, "max_load": 0.7}


def wait_for_quiet(timeout: float, max_load: Optional[float]) -> Dict[str, Any]:
    """Poll every 30 s until the 1-minute load average is under ``max_load`` (None: any) and no
    other `rasa run` runs."""
    started = time.monotonic()
    while True:
        load_now, others = os.getloadavg()[0], foreign_rasa()
        quiet = (max_load is None or load_now < max_load) and not others
        waited = time.monotonic() - started
        if quiet or waited >= timeout:
            if not quiet:
                log(f"machine still busy after {waited:.0f} s (load {load_now:.2f}, other rasa: {len(others)}); "
                    "measuring anyway")
            return {"quiet": quiet, "waited_seconds": round(waited), "loadavg": loadavg(), "other_rasa": others}
        log(f"waiting for a quiet machine: load {load_now:.2f}, other rasa processes: {len(others)}")
        time.sleep(30)


# --------------------------------------------------------------------------- training

def timed_training(command: List[str], log_file: Path) -> Dict[str, Any]:
    """Run a `rasa train`, sampling the peak RSS of its process tree every 0.2 s."""
    env = {**os.environ, **SERVER_ENV, "PYTHONPATH": str(ROOT)}
    log_file.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    with log_file.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}); see {log_file}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak / 2**20)}


def measure_training() -> Dict[str, Any]:
    """`make train`'s training, forced and into a temporary directory (models/ untouched)."""
    before = loadavg()
    with tempfile.TemporaryDirectory(prefix="scale-train-") as out:
        log("training config.yml (rasa train --force) ...")
        figures = timed_training([str(VENV_BIN / "rasa"), "train", "--force", "--fixed-model-name", "triage",
                                  "--out", out], CACHE / "logs" / "train.log")
        figures["model_mb"] = round((Path(out) / "triage.tar.gz").stat().st_size / 2**20, 1)
    figures["loadavg_before"] = before
    return figures


def stock_fingerprint() -> str:
    digest = hashlib.sha256()
    import rasa
    digest.update(rasa.__version__.encode())
    files = [ROOT / "domain.yml", STOCK / "config.yml", *sorted((ROOT / "data").rglob("*"))]
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def stock_model(retrain: bool = False) -> Dict[str, Any]:
    """The stock model in bench/.cache/, trained again only when data, domain or config changed."""
    model, meta_file = CACHE / "stock.tar.gz", CACHE / "stock.json"
    fingerprint = stock_fingerprint()
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    if model.exists() and meta.get("fingerprint") == fingerprint and not retrain:
        log(f"stock model: reusing {model.relative_to(ROOT)}")
        return {**meta, "model": str(model), "reused": True}
    log("stock model: training bench/stock/config.yml on our data (a few minutes) ...")
    before = loadavg()
    meta = timed_training([str(VENV_BIN / "rasa"), "train", "--config", str(STOCK / "config.yml"),
                           "--out", str(CACHE), "--fixed-model-name", "stock", "--force"],
                          CACHE / "logs" / "stock-train.log")
    meta.update(fingerprint=fingerprint, model_mb=round(model.stat().st_size / 2**20, 1),
                trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), loadavg_before=before,
                loadavg_after=loadavg())
    meta_file.write_text(json.dumps(meta, indent=2))
    return {**meta, "model": str(model), "reused": False}


# --------------------------------------------------------------------------- servers

class StockBotServers(BotServers):
    """The launcher's servers with Rasa's own REST channel (bench/stock/credentials.yml)."""

    def _rasa_command(self, port: int) -> List[str]:
        command = super()._rasa_command(port)
        command[command.index("--credentials") + 1] = str(STOCK / "credentials.yml")
        return command


def port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"Port {port} is already in use: stop what runs there first.")


def post(url: str, text: str, sender: str, timeout: float = 120) -> List[Dict[str, Any]]:
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def start_timed(servers: BotServers, port: int, timeout: float = 300) -> float:
    """Start the Rasa instance on ``port``: seconds from its process start to its first REST answer."""
    url, answered = f"http://127.0.0.1:{port}", {}
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            try:
                if post(url, "你好", f"startup-probe-{uuid.uuid4().hex[:8]}", timeout=timeout):
                    answered["at"] = time.perf_counter()
                    return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=probe, daemon=True)
    started = time.perf_counter()
    thread.start()
    try:
        servers.start_instance(port, timeout)
        thread.join(timeout)
    finally:
        done.set()
    if "at" not in answered:
        raise TimeoutError(f"{url} gave no answer within {timeout:.0f}s")
    return round(answered["at"] - started, 1)


@contextlib.contextmanager
def running(servers: BotServers, label: str) -> Iterator[Dict[str, float]]:
    """Action server, then each Rasa instance (timed to its first answer); stopped afterwards."""
    for port in (servers.actions_port, *servers.rasa_ports):
        port_free(port)
    if QUIET["timeout"]:  # between our own runs the load average is ours: wait only for other bots
        wait_for_quiet(QUIET["timeout"], None)
    startup: Dict[str, float] = {}
    try:
        log(f"{label}: starting the action server and {len(servers.rasa_ports)} Rasa instance(s) ...")
        servers.start_actions()
        for port in servers.rasa_ports:
            startup[str(port)] = start_timed(servers, port)
        log(f"{label}: up; first answers after {startup} s")
        yield startup
    finally:
        servers.stop()


@contextlib.contextmanager
def production(instances: int, log_dir: Path) -> Iterator[Any]:
    names = production_store_names()
    servers = BotServers(profile="production", rasa_ports=RASA_PORTS[:instances], actions_port=ACTIONS_PORT,
                         log_dir=log_dir, extra_env={**SERVER_ENV, **names})
    try:
        with running(servers, f"production, {instances} instance(s)") as startup:
            yield servers, startup
    finally:
        remove_production_stores(names)


@contextlib.contextmanager
def embedded(instances: int, log_dir: Path) -> Iterator[Any]:
    """Our configuration on the embedded profile, on SQLite files of the run's own."""
    with tempfile.TemporaryDirectory(prefix="scale-embedded-") as scratch:
        servers = BotServers(rasa_ports=RASA_PORTS[:instances], actions_port=ACTIONS_PORT, log_dir=log_dir,
                             tracker_db=Path(scratch) / "tracker.db",
                             extra_env={**SERVER_ENV, "DATABASE_URL": f"sqlite:///{scratch}/service.db"})
        with running(servers, "ours, embedded profile") as startup:
            yield servers, startup


def production_store_names() -> Dict[str, str]:
    """A database, Redis key prefix and queue of the run's own."""
    tag = uuid.uuid4().hex[:10]
    return {"POSTGRES_DB": f"triage_bench_{tag}", "REDIS_KEY_PREFIX": f"bench{tag}",
            "RABBITMQ_QUEUE": f"triage_bench_events_{tag}"}


def remove_production_stores(names: Dict[str, str]) -> None:
    """Drop the run's database, delete its queue and Redis keys."""
    import aio_pika
    import psycopg2
    import redis

    try:
        connection = psycopg2.connect(**POSTGRES)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                           (names["POSTGRES_DB"],))
            cursor.execute(f'DROP DATABASE IF EXISTS "{names["POSTGRES_DB"]}"')
        connection.close()
    except Exception as error:  # noqa: BLE001  (cleanup goes on; say what is left)
        log(f"could not drop database {names['POSTGRES_DB']}: {error}")

    async def delete_queue() -> None:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(names["RABBITMQ_QUEUE"])

    try:
        asyncio.run(delete_queue())
    except Exception as error:  # noqa: BLE001
        log(f"could not delete queue {names['RABBITMQ_QUEUE']}: {error}")
    try:
        client = redis.Redis(**REDIS)
        keys = list(client.scan_iter(f"{names['REDIS_KEY_PREFIX']}:*"))
        if keys:
            client.delete(*keys)
    except Exception as error:  # noqa: BLE001
        log(f"could not delete Redis keys {names['REDIS_KEY_PREFIX']}:*: {error}")


# --------------------------------------------------------------------------- load

class Outcome:
    def __init__(self) -> None:
        self.latencies: List[float] = []
        self.errors: List[str] = []
        self.empty = 0


async def say(session: aiohttp.ClientSession, url: str, sender: str, text: str, outcome: Outcome) -> None:
    started = time.perf_counter()
    try:
        async with session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                outcome.errors.append(f"HTTP {response.status}")
                return
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        outcome.errors.append(type(error).__name__)
        return
    outcome.latencies.append((time.perf_counter() - started) * 1000)
    if not answer:
        outcome.empty += 1


async def person(session, urls: Sequence[str], index: int, conversations: int, turns: int, typing: bool,
                 tag: str, outcome: Outcome, sticky: bool = False) -> None:
    pauses = random.Random(index)
    if typing:  # people do not all press enter at the same moment
        await asyncio.sleep(pauses.uniform(0, 1.0))
    for number in range(conversations):
        sender = f"{tag}-{index}-{number}"
        for turn in range(turns):
            # Round robin per message: with two instances a conversation alternates between them
            # (sticky: each conversation stays on one instance, as a sticky load balancer does).
            url = urls[(index if sticky else index + turn) % len(urls)]
            await say(session, url, sender, MESSAGES[turn % len(MESSAGES)], outcome)
            if typing:
                await asyncio.sleep(pauses.uniform(0.5, 1.5))


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120),
                                 connector=aiohttp.TCPConnector(limit=0))


async def _load(urls: Sequence[str], users: int, conversations: int, turns: int, typing: bool,
                sticky: bool) -> Dict[str, Any]:
    outcome, tag = Outcome(), f"{'typing' if typing else 'load'}-{users}-{uuid.uuid4().hex[:8]}"
    async with client() as session:
        with CpuMeter() as cpu:
            started = time.perf_counter()
            await asyncio.gather(*[person(session, urls, index, conversations, turns, typing, tag, outcome, sticky)
                                   for index in range(users)])
            elapsed = time.perf_counter() - started
    if not outcome.latencies:
        raise RuntimeError(f"no answers at all: {outcome.errors[:5]}")
    return {**describe(outcome.latencies), "instances": len(urls), "conversations": users,
            "mode": "typing" if typing else "load", "turns_per_conversation": turns,
            "messages_per_second": round(len(outcome.latencies) / elapsed, 1), "seconds": round(elapsed, 1),
            "errors": len(outcome.errors), "empty_answers": outcome.empty, "cpu": cpu.report(len(outcome.latencies)),
            "loadavg_after": loadavg()}


def load(urls: Sequence[str], users: int, args: argparse.Namespace, typing: bool, sticky: bool = False) -> Dict[str, Any]:
    """``users`` conversations at once; each person runs conversations of ``args.turns`` turns
    back to back until the level has sent at least ``args.messages`` messages."""
    conversations = max(1, math.ceil(args.messages / (users * args.turns)))
    result = asyncio.run(_load(urls, users, conversations, args.turns, typing, sticky))
    log(f"  {len(urls)} instance(s){' sticky' if sticky else ''}, {users:>2} conversations, {result['mode']:<6}: p50 {result['p50_ms']} "
        f"p95 {result['p95_ms']} p99 {result['p99_ms']} ms, {result['messages_per_second']} msg/s, "
        f"CPU {result['cpu']['busy_percent']}% of {CORES} cores, errors {result['errors']}")
    return result


def warm_up(urls: Sequence[str]) -> None:
    async def run() -> None:
        async with client() as session:
            for url in urls:
                outcome = Outcome()
                for text in MESSAGES:
                    await say(session, url, f"warm-up-{uuid.uuid4().hex[:8]}", text, outcome)
                if outcome.errors:
                    raise RuntimeError(f"warm-up on {url} failed: {outcome.errors[:3]}")
    asyncio.run(run())


def long_conversation(url: str, turns: int) -> Dict[str, Any]:
    cycle = len(MESSAGES)
    if turns < 2 * cycle or turns % cycle:
        raise SystemExit(f"--long-turns must be a multiple of {cycle}, at least {2 * cycle}")

    async def run() -> Dict[str, Any]:
        sender, latencies, first_answers, cpu = f"long-{uuid.uuid4().hex[:8]}", [], [], []
        meter = None
        async with client() as session:
            for turn in range(turns):
                text = MESSAGES[turn % cycle]
                if turn in (0, turns - cycle):  # CPU per message in the first and the last window
                    meter = CpuMeter().__enter__()
                started = time.perf_counter()
                async with session.post(f"{url}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": text}) as response:
                    response.raise_for_status()
                    answer = await response.json(content_type=None)
                latencies.append((time.perf_counter() - started) * 1000)
                if turn < cycle:
                    first_answers.append([part.get("text", "") for part in answer])
                if turn in (cycle - 1, turns - 1):
                    meter.__exit__(None, None, None)
                    cpu.append(meter.report(cycle))
            async with session.get(f"{url}/conversations/{sender}/tracker") as response:
                events = (await response.json())["events"]
        return {"latencies": latencies, "first_answers": first_answers, "events": events, "cpu": cpu}

    measured = asyncio.run(run())
    latencies = measured["latencies"]
    first, last = latencies[:cycle], latencies[-cycle:]
    return {
        **describe(latencies), "turns": turns,
        "first_window": f"turns 1-{cycle}", "last_window": f"turns {turns - cycle + 1}-{turns}",
        "first_window_mean_ms": round(statistics.fmean(first), 1),
        "last_window_mean_ms": round(statistics.fmean(last), 1),
        "last_over_first": round(statistics.fmean(last) / statistics.fmean(first), 2),
        "turns_calling_action_server": action_server_turns(measured["events"]),
        # What Rasa sends to the action server on every custom action call: the whole tracker.
        "tracker_events_at_end": len(measured["events"]),
        "tracker_json_kb_at_end": round(len(json.dumps(measured["events"], ensure_ascii=False).encode()) / 1024),
        "cpu_first_window": measured["cpu"][0], "cpu_last_window": measured["cpu"][1],
        "per_message": [{"text": text, "first_ms": round(a, 1), "last_ms": round(b, 1)}
                        for text, a, b in zip(MESSAGES, first, last)],
        "first_answers": measured["first_answers"],
    }


def action_server_turns(events: List[Dict[str, Any]]) -> float:
    """Share of user messages after which at least one custom action or form ran."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    custom = set(domain.get("actions") or []) | set(domain.get("forms") or {})
    turns, calling, current = 0, 0, False
    for event in events:
        if event["event"] == "user":
            turns, calling, current = turns + 1, calling + current, False
        elif event["event"] == "action" and event.get("name") in custom:
            current = True
    calling += current
    return round(calling / turns, 2) if turns else 0.0


# --------------------------------------------------------------------------- runs

def undisturbed(measure, other_share, args: argparse.Namespace) -> Dict[str, Any]:
    """Run ``measure()``; while other work took more than --max-other % of the CPU meanwhile,
    wait 30 s and measure again (at most --attempts times; the last result is kept, and says so)."""
    for attempt in range(1, args.attempts + 1):
        result = measure()
        other = other_share(result)
        if other <= args.max_other or attempt == args.attempts:
            return {**result, "attempts": attempt, "disturbed": other > args.max_other}
        log(f"  other work used {other:.0f}% of the CPU during that run: measuring again in 30 s")
        time.sleep(30)
    raise AssertionError("unreachable")


def workload(urls: Sequence[str], args: argparse.Namespace, levels: Sequence[int], long_turns: Optional[int],
             results: Dict[str, Any], setup: str) -> None:
    warm_up(urls)
    # The long conversation first: every configuration gets it on a server that has only been warmed up.
    if long_turns:
        log(f"  {setup}: one conversation of {long_turns} turns ...")
        results["long"][setup] = undisturbed(
            lambda: long_conversation(urls[0], long_turns),
            lambda row: max(row["cpu_first_window"]["other_busy_percent"], row["cpu_last_window"]["other_busy_percent"]),
            args)
        figures = results["long"][setup]
        log(f"  {figures['first_window']}: {figures['first_window_mean_ms']} ms, "
            f"{figures['last_window']}: {figures['last_window_mean_ms']} ms")
        time.sleep(2)
    for users in levels:
        for mode in args.modes:
            results["scale"].append({"setup": setup, **undisturbed(
                lambda: load(urls, users, args, typing=mode == "typing"),
                lambda row: row["cpu"]["other_busy_percent"], args)})
            time.sleep(2)


def run_all(args: argparse.Namespace) -> Dict[str, Any]:
    import rasa

    results: Dict[str, Any] = {
        "machine": {"cores": CORES, "rasa": rasa.__version__, "loadavg_at_start": loadavg(),
                    "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "settings": {key: value for key, value in vars(args).items() if key != "out"},
        "conversation": MESSAGES, "startup_seconds": {}, "scale": [], "long": {},
    }
    results["settings"]["out"] = str(args.out)
    if args.wait_for_quiet:
        results["machine"]["before_start"] = wait_for_quiet(args.wait_for_quiet, args.max_load)
        results["machine"]["loadavg_at_start"] = loadavg()
    logs = CACHE / "logs"
    parts = set(args.parts)
    shutil.rmtree(logs, ignore_errors=True)

    if "train" in parts:
        results["training"] = measure_training()
        results["training"]["loadavg_after"] = loadavg()
        log(f"training: {results['training']}")
    results["model_mb"] = round((ROOT / "models" / "triage.tar.gz").stat().st_size / 2**20, 1)

    stock = stock_model(args.retrain_stock) if "stock" in parts else None  # train first: nothing else runs then

    # Our configuration, production profile, one instance: start-up, scale, long conversation.
    levels_1 = args.conversations if "scale" in parts and 1 in args.instances else (
        [10] if "stock" in parts else [])
    long_1 = args.long_turns if parts & {"long", "stock"} else None
    if parts & {"startup", "scale", "long", "stock"} and (levels_1 or long_1 or "startup" in parts):
        with production(1, logs / "production-1") as (servers, startup):
            results["startup_seconds"]["production, 1 instance"] = startup[str(servers.rasa_port)]
            workload(servers.urls, args, levels_1, long_1, results, "production-1")

    if "scale" in parts and 2 in args.instances:
        with production(2, logs / "production-2") as (servers, startup):
            workload(servers.urls, args, args.conversations, None, results, "production-2")
            for users in [users for users in args.conversations if users > 1] if args.sticky else []:
                results["scale"].append({"setup": "production-2-sticky", **undisturbed(
                    lambda: load(servers.urls, users, args, typing=False, sticky=True),
                    lambda row: row["cpu"]["other_busy_percent"], args)})

    if "embedded" in parts:
        with embedded(1, logs / "embedded") as (servers, startup):
            results["startup_seconds"]["embedded"] = startup[str(servers.rasa_port)]
            workload(servers.urls, args, [10], args.long_turns, results, "embedded")

    if stock:
        results["stock_model"] = {key: value for key, value in stock.items() if key != "fingerprint"}
        with tempfile.TemporaryDirectory(prefix="scale-stock-") as scratch:
            servers = StockBotServers(model=Path(stock["model"]), rasa_port=STOCK_RASA_PORT,
                                      actions_port=STOCK_ACTIONS_PORT, endpoints=STOCK / "endpoints.yml",
                                      tracker_db=Path(scratch) / "tracker.db", log_dir=logs / "stock",
                                      extra_env={**SERVER_ENV, "DATABASE_URL": f"sqlite:///{scratch}/service.db"})
            with running(servers, "stock configuration") as startup:
                results["startup_seconds"]["stock"] = startup[str(servers.rasa_port)]
                workload(servers.urls, args, [10], args.long_turns, results, "stock")

    results["machine"]["loadavg_at_end"] = loadavg()
    results["goals"] = goals(results)
    return results


# --------------------------------------------------------------------------- report

def find(results: Dict[str, Any], setup: str, users: int, mode: str) -> Optional[Dict[str, Any]]:
    return next((row for row in results["scale"]
                 if row["setup"] == setup and row["conversations"] == users and row["mode"] == mode), None)


def goals(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    found = []
    typing10 = find(results, "production-1", 10, "typing")
    if typing10:
        found.append({"goal": "p95 under 150 ms at 10 conversations (people typing, 1 instance)",
                      "measured": f"{typing10['p95_ms']} ms", "met": typing10["p95_ms"] < 150})
    load10 = find(results, "production-1", 10, "load")
    if load10:
        found.append({"goal": "p95 under 150 ms at 10 conversations (no pauses, 1 instance)",
                      "measured": f"{load10['p95_ms']} ms", "met": load10["p95_ms"] < 150})
    stock10 = find(results, "stock", 10, "load")
    if load10 and stock10:
        ratio = load10["messages_per_second"] / stock10["messages_per_second"]
        found.append({"goal": "at least 5x the stock configuration's throughput (10 conversations, no pauses)",
                      "measured": f"{ratio:.1f}x ({load10['messages_per_second']} vs "
                                  f"{stock10['messages_per_second']} msg/s)", "met": ratio >= 5})
        embedded10 = find(results, "embedded", 10, "load")
        if embedded10:
            found[-1]["measured"] += (f"; embedded profile "
                                      f"{embedded10['messages_per_second'] / stock10['messages_per_second']:.2f}x")
    long = results["long"].get("production-1")
    if long:
        found.append({"goal": f"turn {long['turns']} no slower than turn 1 (within 5%)",
                      "measured": f"{long['last_window']} {long['last_window_mean_ms']} ms vs "
                                  f"{long['first_window']} {long['first_window_mean_ms']} ms "
                                  f"({long['last_over_first']}x)",
                      "met": long["last_window_mean_ms"] <= long["first_window_mean_ms"] * 1.05})
        embedded = results["long"].get("embedded")
        if embedded:
            found[-1]["measured"] += (f"; embedded profile {embedded['last_window_mean_ms']} vs "
                                      f"{embedded['first_window_mean_ms']} ms ({embedded['last_over_first']}x)")
    # Faster: at least 5% more messages/s without a worse p95.
    for users in sorted({row["conversations"] for row in results["scale"] if row["setup"] == "production-2"}):
        one, two = find(results, "production-1", users, "typing"), find(results, "production-2", users, "typing")
        if one and two and users > 1:
            found.append({"goal": f"two instances faster than one (messages alternating; {users} people typing)",
                          "measured": f"p50 {two['p50_ms']:.0f} vs {one['p50_ms']:.0f} ms, "
                                      f"p95 {two['p95_ms']:.0f} vs {one['p95_ms']:.0f} ms",
                          "met": two["p95_ms"] < one["p95_ms"] and two["p50_ms"] <= one["p50_ms"] * 1.05})
    for setup, how in (("production-2", "messages alternating"), ("production-2-sticky", "sticky routing, extra")):
        for users in sorted({row["conversations"] for row in results["scale"] if row["setup"] == setup}):
            one, two = find(results, "production-1", users, "load"), find(results, setup, users, "load")
            if one and two and users > 1:
                found.append({"goal": f"two instances faster than one ({how}; {users} conversations, no pauses)",
                              "measured": f"{two['messages_per_second']} vs {one['messages_per_second']} msg/s "
                                          f"({two['messages_per_second'] / one['messages_per_second']:.2f}x), "
                                          f"p95 {two['p95_ms']:.0f} vs {one['p95_ms']:.0f} ms",
                              "met": two["messages_per_second"] > one["messages_per_second"] * 1.05
                              and two["p95_ms"] <= one["p95_ms"]})
    return found


def _no_tickets(texts: List[str]) -> List[str]:
    return [re.sub(r"T\d{8}-\d{4}", "T…", text) for text in texts]


def _unit(value: Any, unit: str) -> str:
    return "" if value in (None, "") else value if isinstance(value, str) else f"{value} {unit}"


def ms(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.1f} ms"


def markdown(results: Dict[str, Any]) -> str:
    out: List[str] = []
    machine = results["machine"]
    others = [row["cpu"].get("other_busy_percent", 0.0) for row in results["scale"]]
    out.append(f"Measured on {machine['cores']} cores, Rasa {machine['rasa']}; load average "
               f"{machine['loadavg_at_start'][0]} at the start, {machine['loadavg_at_end'][0]} at the end"
               + (f"; other work on the machine during the load runs: at most {max(others):.0f}% of the "
                  f"CPU (median {statistics.median(others):.0f}%)" if others else "") + ".\n")
    retried = [row for row in [*results["scale"], *results["long"].values()] if row.get("attempts", 1) > 1]
    disturbed = [row for row in [*results["scale"], *results["long"].values()] if row.get("disturbed")]
    if retried or disturbed:
        out.append(f"{len(retried)} run(s) measured again because other work used the CPU meanwhile; "
                   f"{len(disturbed)} still disturbed after {results['settings'].get('attempts', 3)} attempts.\n")

    rows = [row for row in results["scale"] if row["setup"].startswith("production")]
    if rows:
        out.append("#### Scale-out (production profile: PostgreSQL, Redis locks, RabbitMQ; REST; action server in the loop)\n")
        out.append("| instances | conversations | mode | p50 | p95 | p99 | messages/s | CPU busy | CPU ms per message "
                   "(bot + stores) |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in sorted(rows, key=lambda r: (r["mode"] != "typing", r["conversations"], r["instances"])):
            instances = f"{row['instances']}{' (sticky)' if row['setup'].endswith('sticky') else ''}"
            out.append(f"| {instances} | {row['conversations']} | {row['mode']} | {ms(row['p50_ms'])} | "
                       f"{ms(row['p95_ms'])} | {ms(row['p99_ms'])} | {row['messages_per_second']} | "
                       f"{row['cpu']['busy_percent']:.0f}% | {row['cpu']['cpu_ms_per_message_total']} |")
        out.append("\ntyping: each person pauses 0.5-1.5 s before the next message; load: no pauses. With two "
                   "instances a conversation's messages alternate between them (sticky: each conversation stays "
                   "on one). CPU busy: share of both cores in use during the run.\n")
    heavy = [row for row in results["scale"] if row["mode"] == "load" and row["conversations"] > 1]
    if heavy:
        top = max(row["conversations"] for row in heavy)
        order = list(LABELS)
        picks = sorted([row for row in heavy if row["conversations"] in (10, top)],
                       key=lambda row: (row["conversations"], order.index(row["setup"])))
        roles = sorted({role for row in picks for role in row["cpu"]["cpu_ms_per_message"]} - {"other"},
                       key=lambda role: -max(row["cpu"]["cpu_ms_per_message"].get(role, 0) for row in picks))
        out.append("#### CPU time per message, no pauses\n")
        out.append("| process | " + " | ".join(f"{SHORT[row['setup']]}, {row['conversations']} conv."
                                               for row in picks) + " |")
        out.append("|---|" + "---|" * len(picks))
        for role in roles:
            out.append(f"| {role} | " + " | ".join(
                f"{row['cpu']['cpu_ms_per_message'].get(role, 0):.1f}" for row in picks) + " |")
        out.append("| **total, bot and stores (ms)** | " + " | ".join(
            f"**{row['cpu']['cpu_ms_per_message_total']:.1f}**" for row in picks) + " |")
        out.append("| other processes, not the bot (ms) | " + " | ".join(
            f"{row['cpu']['other_cpu_ms_per_message']:.1f}" for row in picks) + " |")
        out.append("| CPU busy (both cores) | " + " | ".join(f"{row['cpu']['busy_percent']:.0f}%" for row in picks)
                   + " |")
        out.append("| messages/s | " + " | ".join(f"{row['messages_per_second']}" for row in picks) + " |")
        out.append("\nms of CPU per answered message, from /proc (utime + stime) over the run.\n")

    if results["long"]:
        out.append("#### One long conversation\n")
        out.append("| configuration | turns | first 20 turns (mean) | last 20 turns (mean) | last / first | p50 | p95 "
                   "| messages calling the action server |")
        out.append("|---|---|---|---|---|---|---|---|")
        for setup, row in results["long"].items():
            out.append(f"| {LABELS[setup]} | {row['turns']} | {ms(row['first_window_mean_ms'])} | "
                       f"{ms(row['last_window_mean_ms'])} | {row['last_over_first']}x | {ms(row['p50_ms'])} | "
                       f"{ms(row['p95_ms'])} | {row['turns_calling_action_server']:.0%} |")
        out.append("")
        for setup, row in results["long"].items():
            if "per_message" not in row:
                continue
            growth = sorted(row["per_message"], key=lambda item: item["first_ms"] - item["last_ms"])[:4]
            first, last = row["cpu_first_window"]["cpu_ms_per_message"], row["cpu_last_window"]["cpu_ms_per_message"]
            cpu = ", ".join(f"{role} {first.get(role, 0):.0f} → {last.get(role, 0):.0f}"
                            for role in ("rasa", "action server", "postgresql") if role in first or role in last)
            out.append(f"- {LABELS[setup]}: most growth in " + ", ".join(
                f"「{item['text']}」 {item['first_ms']:.0f} → {item['last_ms']:.0f} ms" for item in growth)
                + f"; CPU ms per message, first → last 20 turns: {cpu}; at the end the tracker Rasa sends "
                f"to the action server has {row['tracker_events_at_end']} events "
                f"({row['tracker_json_kb_at_end']} KB of JSON).")
        out.append("")

    if "stock" in results["long"] or find(results, "stock", 10, "load"):
        setups = [setup for setup in ("production-1", "embedded", "stock")
                  if find(results, setup, 10, "load") or setup in results["long"]]
        out.append("#### Against the stock configuration (same data, domain, NLG and action server)\n")
        ratios = [setup for setup in ("production-1", "embedded") if setup in setups and "stock" in setups]
        out.append("| figure | " + " | ".join(LABELS[setup] for setup in setups) + " | "
                   + " | ".join(f"{SHORT[setup]} / stock" for setup in ratios) + " |")
        out.append("|---|" + "---|" * (len(setups) + len(ratios)))

        def line(label: str, values: List[Optional[float]], unit: str, higher_is_better: bool) -> None:
            cells = ["" if value is None else f"{value}{unit}" for value in values]
            stock = values[setups.index("stock")] if "stock" in setups else None
            for setup in ratios:
                ours = values[setups.index(setup)]
                cells.append(f"{(ours / stock if higher_is_better else stock / ours):.1f}x" if ours and stock else "")
            out.append(f"| {label} | " + " | ".join(cells) + " |")

        for mode, title in (("typing", "10 people typing"), ("load", "10 conversations, no pauses")):
            for key in ("p50_ms", "p95_ms", "p99_ms"):
                line(f"{title}: {key[:3]}", [(find(results, s, 10, mode) or {}).get(key) for s in setups], " ms", False)
            line(f"{title}: messages/s", [(find(results, s, 10, mode) or {}).get("messages_per_second")
                                          for s in setups], "", True)
        long_values = [results["long"].get(setup) for setup in setups]
        line("long conversation: turns 1-20 mean", [row and row["first_window_mean_ms"] for row in long_values],
             " ms", False)
        last = next((row for row in long_values if row), None)
        if last:
            line(f"long conversation: {last['last_window']} mean",
                 [row and row["last_window_mean_ms"] for row in long_values], " ms", False)
        starts = results["startup_seconds"]
        line("start-up to first answer", [starts.get({"production-1": "production, 1 instance"}.get(s, s))
                                          for s in setups], " s", False)
        out.append("\n... / stock: how many times faster (latency) or more (messages/s) ours is than stock.\n")
        if "stock" in results["long"] and "production-1" in results["long"]:
            ours, theirs = results["long"]["production-1"]["first_answers"], results["long"]["stock"]["first_answers"]
            same = sum(1 for a, b in zip(ours, theirs) if _no_tickets(a) == _no_tickets(b))
            out.append(f"The stock bot gave the same answers as ours to {same} of the {len(ours)} messages of "
                       f"the conversation.\n")

    if "training" in results or results.get("startup_seconds"):
        out.append("#### Training, model, start-up\n")
        out.append("| figure | ours | stock |")
        out.append("|---|---|---|")
        training, stock = results.get("training"), dict(results.get("stock_model") or {})
        if stock.get("reused") and stock.get("seconds"):
            stock["seconds"] = f"{stock['seconds']} s (cached model, trained {stock.get('trained_at', '?')})"
            stock["peak_rss_mb"] = f"{stock.get('peak_rss_mb')} MB (same)"
        if training:
            out.append(f"| `rasa train --force` wall time | {training['seconds']} s | {_unit(stock.get('seconds'), 's')} |")
            out.append(f"| peak RSS of the training process tree | {training['peak_rss_mb']} MB | "
                       f"{_unit(stock.get('peak_rss_mb'), 'MB')} |")
        out.append(f"| model size | {results['model_mb']} MB | {_unit(stock.get('model_mb'), 'MB')} |")
        starts = results["startup_seconds"]
        if "production, 1 instance" in starts:
            out.append(f"| start-up to first REST answer, one instance | {starts['production, 1 instance']} s "
                       f"(production profile) | {starts.get('stock', '')}{' s' if 'stock' in starts else ''} |")
        out.append("")

    if results["goals"]:
        out.append("#### Goals\n")
        out.append("| goal | measured | met |")
        out.append("|---|---|---|")
        for goal in results["goals"]:
            out.append(f"| {goal['goal']} | {goal['measured']} | {'yes' if goal['met'] else '**no**'} |")
        out.append("")
    return "\n".join(out)


LABELS = {"production-1": "ours (production, 1 instance)", "production-2": "ours (production, 2 instances)",
          "production-2-sticky": "ours (production, 2 instances, sticky)",
          "embedded": "ours (embedded, SQLite)", "stock": "stock"}
SHORT = {"production-1": "1 instance", "production-2": "2 instances", "production-2-sticky": "2 sticky",
         "embedded": "embedded", "stock": "stock"}
PARTS = ["train", "startup", "scale", "long", "stock", "embedded"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, any of {','.join(PARTS)} (default: all)")
    parser.add_argument("--instances", default="1,2", help="instance counts for the scale part")
    parser.add_argument("--conversations", default="1,10,50", help="concurrent conversations for the scale part")
    parser.add_argument("--modes", default="typing,load", help="typing (0.5-1.5 s pauses), load (no pauses)")
    parser.add_argument("--turns", type=int, default=20, help="turns per conversation")
    parser.add_argument("--messages", type=int, default=200,
                        help="at least this many messages per level (people run several conversations back to back)")
    parser.add_argument("--long-turns", type=int, default=200, help="turns of the long conversation (multiple of 20)")
    parser.add_argument("--sticky", action="store_true",
                        help="also run two instances with each conversation kept on one instance (no pauses)")
    parser.add_argument("--retrain-stock", action="store_true",
                        help="train the stock model again even when bench/.cache/stock.tar.gz is up to date "
                             "(to measure its training time)")
    parser.add_argument("--wait-for-quiet", type=float, default=0, metavar="SECONDS",
                        help="first wait up to this long until the load average is under --max-load and no "
                             "other `rasa run` process runs")
    parser.add_argument("--max-load", type=float, default=0.7, help="for --wait-for-quiet (default 0.7)")
    parser.add_argument("--max-other", type=float, default=10, metavar="PERCENT",
                        help="measure a run again when other work used more than this share of the CPU "
                             "meanwhile (default 10)")
    parser.add_argument("--attempts", type=int, default=3, help="at most this many measurements of a run")
    parser.add_argument("--quick", action="store_true",
                        help="about 5 minutes: no training, 1 and 10 conversations, 20 messages per level, "
                             "60-turn long conversation")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "scale.json")
    parser.add_argument("--render", action="store_true",
                        help="only print the Markdown tables of an earlier run (--out), measure nothing")
    args = parser.parse_args()
    if args.quick:
        defaults = {"parts": ",".join(p for p in PARTS if p != "train"), "conversations": "1,10",
                    "messages": 20, "long_turns": 60}
        for key, value in defaults.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    args.parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    args.instances = [int(value) for value in args.instances.split(",")]
    args.conversations = [int(value) for value in args.conversations.split(",")]
    args.modes = [mode.strip() for mode in args.modes.split(",")]
    if set(args.modes) - {"typing", "load"}:
        parser.error("--modes: typing and/or load")
    if args.long_turns < 40 or args.long_turns % len(MESSAGES):
        parser.error(f"--long-turns must be a multiple of {len(MESSAGES)}, at least 40")

    if args.render:
        results = json.loads(args.out.read_text(encoding="utf-8"))
        results["goals"] = goals(results)
        print(markdown(results))
        return 0
    QUIET.update(timeout=args.wait_for_quiet, max_load=args.max_load)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers and clean up on SIGTERM too
    results = run_all(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    tables = markdown(results)
    args.out.with_suffix(".md").write_text(tables + "\n", encoding="utf-8")
    print(tables)
    log(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
