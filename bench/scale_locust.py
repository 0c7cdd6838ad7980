"""The scale benchmark's load: headless Locust runs of bench/locustfile.py, read back from Locust's CSV.

    run = locust_run(url, users=10, messages=200, turns=20, typing=False, channel="rest", out=Path(...))

starts ``locust --headless`` in a subprocess against ``url`` (one Rasa instance,
or the cluster's gateway), with CPU per process (scale_machine.CpuMeter: the
Locust process counts as "load generator") and the resident memory of the
Rasa instances and the action server (scale_machine.MemorySampler) metered
meanwhile, and returns one row of scale.json, read from Locust's
``<out>_stats.csv`` and ``<out>_failures.csv``, which stay next to scale.json.

The same command by hand (what the lead or anyone with Locust runs):

    .venv/bin/locust -f bench/locustfile.py --headless -u 10 -r 10 --run-time 600s \\
        --host http://127.0.0.1:5005 --csv bench/results/locust/run --mode load --messages 200 RestConversation
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Sequence

from bench.mix import MESSAGES
from bench.scale_machine import CORES, CpuMeter, MemorySampler, loadavg, log
from bench.scale_servers import post
from bot.launcher import VENV_BIN
from bot.settings import ROOT

LOCUSTFILE = ROOT / "bench" / "locustfile.py"
# Locust user class per channel (bench/locustfile.py).
USER_CLASSES = {"rest": "RestConversation", "socketio": "SocketIOConversation"}
CHANNELS = tuple(USER_CLASSES)


def whole_conversations(messages: int, users: int, turns: int) -> int:
    """At least ``messages``, and enough for every person to finish whole conversations: a level
    of many people would otherwise measure only the first messages of the mix."""
    return users * turns * max(1, math.ceil(messages / (users * turns)))


def locust_command(url: str, users: int, messages: int, turns: int, typing: bool, channel: str, out: Path,
                   max_seconds: int) -> List[str]:
    return [str(VENV_BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "--only-summary",
            "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{max_seconds}s",
            "--host", url, "--csv", str(out), "--exit-code-on-error", "0", "--loglevel", "WARNING",
            "--mode", "typing" if typing else "load", "--turns", str(turns), "--messages", str(messages),
            USER_CLASSES[channel]]


def read_stats(out: Path) -> Dict[str, Dict[str, Any]]:
    """Locust's ``<out>_stats.csv``: each row (by name; the total is "Aggregated")."""
    with open(f"{out}_stats.csv", newline="", encoding="utf-8") as file:
        return {row["Name"]: row for row in csv.DictReader(file)}


def read_failures(out: Path) -> Dict[str, int]:
    """Locust's ``<out>_failures.csv``: occurrences per error."""
    path = Path(f"{out}_failures.csv")
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as file:
        return {row["Error"]: int(row["Occurrences"]) for row in csv.DictReader(file)}


def figures(row: Dict[str, Any]) -> Dict[str, Any]:
    """A Locust stats row as the figures of scale.json (Locust rounds times over 100 ms to 10 ms)."""
    return {"messages": int(row["Request Count"]), "p50_ms": float(row["50%"]), "p95_ms": float(row["95%"]),
            "p99_ms": float(row["99%"]), "mean_ms": round(float(row["Average Response Time"]), 1),
            "messages_per_second": round(float(row["Requests/s"]), 1), "errors": int(row["Failure Count"])}


def locust_run(url: str, users: int, *, messages: int, turns: int, typing: bool, channel: str, out: Path,
               instances: int = 1, max_seconds: int = 900) -> Dict[str, Any]:
    """``users`` people at once on ``channel`` (rest or socketio) until ``messages`` (rounded up to
    whole conversations) are answered; one row of scale.json.

    Returns messages, p50_ms, p95_ms, p99_ms, mean_ms, messages_per_second, errors, error_kinds,
    instances, conversations, mode, channel, turns_per_conversation, seconds, cpu (CpuMeter's report),
    memory (MemorySampler's report), locust_csv and loadavg_after."""
    total = whole_conversations(messages, users, turns)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = locust_command(url, users, total, turns, typing, channel, out, max_seconds)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (out.parent / f"{out.name}.log").open("wb") as output, MemorySampler() as memory, CpuMeter() as cpu:
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                  timeout=max_seconds + 120)
        elapsed = time.perf_counter() - started
    if finished.returncode:
        raise RuntimeError(f"locust failed ({finished.returncode}); see {out.parent / f'{out.name}.log'}")
    stats = read_stats(out)
    if "Aggregated" not in stats or not int(stats["Aggregated"]["Request Count"]):
        raise RuntimeError(f"no answers at all; see {out}_failures.csv")
    row = figures(stats["Aggregated"])
    result = {**row, "error_kinds": read_failures(out), "instances": instances, "conversations": users,
              "mode": "typing" if typing else "load", "channel": channel, "turns_per_conversation": turns,
              "seconds": round(elapsed, 1), "cpu": cpu.report(row["messages"]), "memory": memory.report(),
              "locust_csv": _shown(Path(f"{out}_stats.csv")), "loadavg_after": loadavg()}
    log(f"  {instances} instance(s), {users:>3} conversations, {result['mode']:<6} {channel:<8}: "
        f"p50 {result['p50_ms']} p95 {result['p95_ms']} p99 {result['p99_ms']} ms, "
        f"{result['messages_per_second']} msg/s, CPU {result['cpu']['busy_percent']}% of {CORES} cores, "
        f"errors {result['errors']}")
    return result


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def warm_up(urls: Sequence[str]) -> None:
    """The mix once on each instance, before measuring (models loaded, caches and connections warm)."""
    for url in urls:
        sender = f"warm-up-{uuid.uuid4().hex[:8]}"
        for text in MESSAGES:
            post(url, text, sender)
