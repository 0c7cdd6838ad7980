"""The scale benchmark's long conversation: one person, 200 turns of the mix
(bench/mix.py) over REST, the first 20 turns against the last 20.

The many-people load is Locust's (bench/locustfile.py, run by
bench/scale_locust.py). This part stays a plain aiohttp loop in this process:
it needs each turn's own time and the CPU of two windows of one conversation,
which Locust's aggregate statistics do not keep apart.

  long_conversation(url, turns)       one conversation of ``turns`` turns; its "long" entry of scale.json
"""
from __future__ import annotations

import asyncio
import json
import statistics
import uuid
from typing import Any, Dict, List

import aiohttp
import yaml

from bench.mix import MESSAGES, describe, message, send
from bench.scale_machine import CpuMeter
from bot.settings import ROOT


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120),
                                 connector=aiohttp.TCPConnector(limit=0))


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
