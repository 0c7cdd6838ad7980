"""The scale benchmark's load generator: simulated people sending the message mix
(bench/mix.py) to running Rasa servers over REST, with asyncio and aiohttp in
this process.

This is the seam for another load generator (Locust): the rest of the benchmark
(bench/scale.py, bench/profile_server.py) calls only

  warm_up(urls)                       the mix once on each instance, before measuring
  load(urls, users, messages=, turns=, typing=, sticky=)
                                      ``users`` people at once; a result row of scale.json
  long_conversation(url, turns)       one conversation of ``turns`` turns; its "long" entry

and reads the keys of the dicts they return (below). ``urls`` are the Rasa
instances (http://host:port): a person's messages go round robin over them
(sticky: each person stays on one). CPU per process is metered over each run
(scale_machine.CpuMeter), so the load generator's own CPU shows as
"load generator".
"""
from __future__ import annotations

import asyncio
import json
import math
import random
import statistics
import time
import uuid
from typing import Any, Dict, List, Sequence

import aiohttp
import yaml

from bench.mix import MESSAGES, describe, message, send
from bench.scale_machine import CORES, CpuMeter, loadavg, log
from bot.settings import ROOT


class Outcome:
    def __init__(self) -> None:
        self.latencies: List[float] = []
        self.errors: List[str] = []
        self.empty = 0


async def say(session: aiohttp.ClientSession, url: str, sender: str, text: str, outcome: Outcome) -> None:
    try:
        answer, took = await send(session, url, sender, text)
    except aiohttp.ClientResponseError as error:
        outcome.errors.append(f"HTTP {error.status}")
        return
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        outcome.errors.append(type(error).__name__)
        return
    outcome.latencies.append(took)
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
            await say(session, url, sender, message(turn), outcome)
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


def load(urls: Sequence[str], users: int, *, messages: int, turns: int, typing: bool,
         sticky: bool = False) -> Dict[str, Any]:
    """``users`` conversations at once; each person runs conversations of ``turns`` turns back to
    back until the level has sent at least ``messages`` messages. typing: each person pauses
    0.5-1.5 s before the next message (seeded); otherwise no pauses.

    Returns messages, p50_ms, p95_ms, p99_ms, mean_ms, instances, conversations, mode,
    turns_per_conversation, messages_per_second, seconds, errors, empty_answers, cpu (CpuMeter's
    report) and loadavg_after."""
    conversations = max(1, math.ceil(messages / (users * turns)))
    result = asyncio.run(_load(urls, users, conversations, turns, typing, sticky))
    log(f"  {len(urls)} instance(s){' sticky' if sticky else ''}, {users:>2} conversations, {result['mode']:<6}: "
        f"p50 {result['p50_ms']} p95 {result['p95_ms']} p99 {result['p99_ms']} ms, "
        f"{result['messages_per_second']} msg/s, CPU {result['cpu']['busy_percent']}% of {CORES} cores, "
        f"errors {result['errors']}")
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
    """One conversation of ``turns`` turns (a multiple of the mix's 20, at least 40): the first 20
    turns against the last 20, the same messages, so only the conversation's length differs.

    Returns describe()'s figures, turns, first_window, last_window, first_window_mean_ms,
    last_window_mean_ms, last_over_first, turns_calling_action_server, tracker_events_at_end,
    tracker_json_kb_at_end, cpu_first_window, cpu_last_window, per_message, first_answers."""
    cycle = len(MESSAGES)
    if turns < 2 * cycle or turns % cycle:
        raise SystemExit(f"--long-turns must be a multiple of {cycle}, at least {2 * cycle}")

    async def run() -> Dict[str, Any]:
        sender, latencies, first_answers, cpu = f"long-{uuid.uuid4().hex[:8]}", [], [], []
        meter = None
        async with client() as session:
            for turn in range(turns):
                if turn in (0, turns - cycle):  # CPU per message in the first and the last window
                    meter = CpuMeter().__enter__()
                answer, took = await send(session, url, sender, message(turn))
                latencies.append(took)
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
