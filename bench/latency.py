"""Latency over the REST channel, with the action server in the loop.

Starts a private bot (its own ports and tracker database), then sends the
message mix of bench/mix.py and measures
  1. one conversation of 200 turns: p50/p95, and the first 20 turns against
     the last 20 (the same 20 messages, so only the conversation's length differs);
  2. 10 concurrent conversations of people typing: each reads the answer and
     types for 0.5-1.5 s (seeded) before the next message; p50/p95/p99;
  3. the same 10 conversations without any pause (a load test): how many
     messages per second one process can answer, and the latency then.
Writes bench/results/latency.json and prints a table for the README.

    make bench            # or: .venv/bin/python bench/latency.py --help
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, when run as a script

from bench.mix import MESSAGES, SERVER_ENV, describe, message, send  # noqa: E402
from bot.launcher import BotServers  # noqa: E402
from bot.settings import ROOT  # noqa: E402


async def conversation(session, url, sender: str, turns: int, pause=None) -> List[float]:
    latencies = []
    for turn in range(turns):
        _, took = await send(session, url, sender, message(turn))
        latencies.append(took)
        if pause:
            await asyncio.sleep(pause())
    return latencies


async def concurrent(session, url, users: int, turns: int, think_time: bool) -> Dict:
    started = time.perf_counter()
    runs = await asyncio.gather(*[
        conversation(session, url, f"user-{index}-{think_time}-{time.time()}", turns,
                     _pauses(index) if think_time else None)
        for index in range(users)
    ])
    elapsed = time.perf_counter() - started
    latencies = [latency for run_ in runs for latency in run_]
    return {**describe(latencies), "users": users,
            "messages_per_second": round(len(latencies) / elapsed, 1)}


def _pauses(seed: int):
    generator = random.Random(seed)
    return lambda: generator.uniform(0.5, 1.5)


async def run(url: str, long_turns: int, users: int, turns_per_user: int) -> Dict:
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await conversation(session, url, "warm-up", 20)

        long_run = await conversation(session, url, f"long-{time.time()}", long_turns)
        cycle = len(MESSAGES)
        first, last = long_run[:cycle], long_run[-cycle:]
        typing = await concurrent(session, url, users, turns_per_user, think_time=True)
        load = await concurrent(session, url, users, turns_per_user, think_time=False)

    return {
        "long_conversation": {
            **describe(long_run),
            f"turns_1_{cycle}_mean_ms": round(statistics.fmean(first), 1),
            f"turns_{long_turns - cycle + 1}_{long_turns}_mean_ms": round(statistics.fmean(last), 1),
        },
        "concurrent_people_typing": typing,
        "concurrent_no_pause_load": load,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="turns of the long conversation")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--turns-per-user", type=int, default=20)
    parser.add_argument("--url", help="measure an already running bot instead of starting one")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latency.json")
    args = parser.parse_args()

    if args.url:
        results = asyncio.run(run(args.url, args.turns, args.users, args.turns_per_user))
    else:
        with tempfile.TemporaryDirectory() as scratch:
            servers = BotServers(rasa_port=5105, actions_port=5155,
                                 tracker_db=Path(scratch) / "tracker.db", log_dir=Path(scratch) / "logs",
                                 extra_env={**SERVER_ENV, "DATABASE_URL": f"sqlite:///{scratch}/service.db"})
            with servers:
                results = asyncio.run(run(servers.url, args.turns, args.users, args.turns_per_user))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
