"""Where a late turn spends more time than an early one (in-process profile).

Loads the trained Agent in this process (NLG and tracker store as in
endpoints.yml, a scratch SQLite database), starts the action server on a
private port, runs conversations of the bench messages (bench/mix.py)
and profiles two windows of turns with cProfile: the first cycle of the 20
messages and the last one. Prints the mean time per turn of each window and
the functions whose time per turn grew the most.

    .venv/bin/python bench/profile_turns.py                       # 200 turns
    .venv/bin/python bench/profile_turns.py --turns 400 --conversations 3 --own-time
    .venv/bin/python bench/profile_turns.py --no-profile --per-message --conversations 5
    .venv/bin/python bench/profile_turns.py --production --turns 60   # PostgreSQL, Redis, RabbitMQ

cProfile counts only this process's CPU time: time spent waiting for the
action server shows in the wall times (--per-message), not in the profile.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, when run as a script

from bench.mix import MESSAGES, SERVER_ENV, message  # noqa: E402
from bench.scale_servers import production_store_names, remove_production_stores  # noqa: E402
from bot.launcher import _ensure_port_free  # noqa: E402
from bot.settings import EMBEDDED_ENDPOINTS, PRODUCTION_ENDPOINTS, PRODUCTION_ENV_DEFAULTS, ROOT  # noqa: E402

VENV_BIN = Path(sys.executable).parent
FunctionKey = Tuple[str, int, str]


def start_action_server(port: int, log: Path, timeout: float = 120) -> subprocess.Popen:
    _ensure_port_free(port)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SANIC_HOST": "127.0.0.1"}
    process = subprocess.Popen(
        [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"the action server did not start on port {port}; see {log}")


def quiet_logging() -> None:
    """Log as `rasa run` does by default (INFO), not every debug line."""
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.INFO)
    configure_structlog(logging.INFO)


def load_agent(scratch: Path, actions_port: int):
    """The embedded profile (endpoints.yml) with a scratch SQLite tracker database."""
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import EndpointConfig

    endpoints = yaml.safe_load(EMBEDDED_ENDPOINTS.read_text(encoding="utf-8"))
    store_config = dict(endpoints["tracker_store"], db=str(scratch / "tracker.db"))
    store = TrackerStore.create(EndpointConfig.from_dict(store_config))
    return Agent.load(
        str(ROOT / "models" / "triage.tar.gz"),
        tracker_store=store,
        action_endpoint=EndpointConfig.from_dict(
            {**endpoints["action_endpoint"], "url": f"http://127.0.0.1:{actions_port}/webhook"}),
        generator=EndpointConfig(type="bot.nlg.ServiceNaturalLanguageGenerator"),
    )


async def load_production_agent(actions_port: int):
    """The production profile (endpoints.production.yml) on this run's own stores."""
    from rasa.core.agent import load_agent as load_with_endpoints
    from rasa.core.utils import AvailableEndpoints

    os.environ.update({**PRODUCTION_ENV_DEFAULTS, **os.environ})
    os.environ["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{actions_port}/webhook"
    endpoints = AvailableEndpoints.read_endpoints(str(PRODUCTION_ENDPOINTS))
    return await load_with_endpoints(model_path=str(ROOT / "models" / "triage.tar.gz"), endpoints=endpoints)


async def run(
    load, turns: int, conversations: int, windows: Dict[str, range]
) -> Tuple[List[List[float]], Dict[str, pstats.Stats]]:
    agent = await load()
    for text in MESSAGES * 2:  # warm up caches and lazy imports on another conversation
        await agent.handle_text(text, sender_id="warm-up")
    runs, profiles = [], {name: cProfile.Profile() for name in windows}
    for conversation in range(conversations):
        sender = f"profile-{conversation}-{time.time()}"
        latencies = []
        for turn in range(turns):
            profiler = next((profiles[name] for name, span in windows.items() if turn in span), None)
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            await agent.handle_text(message(turn), sender_id=sender)
            if profiler:
                profiler.disable()
            latencies.append((time.perf_counter() - started) * 1000)
        runs.append(latencies)
    return runs, {name: pstats.Stats(profile) for name, profile in profiles.items()}


def per_turn(stats: pstats.Stats, turns: int, column: int) -> Dict[FunctionKey, float]:
    """Column 2: own time (tottime), column 3: cumulative time; ms per turn."""
    return {key: value[column] * 1000 / turns for key, value in stats.stats.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--actions-port", type=int, default=5155)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--conversations", type=int, default=1, help="profile several conversations together")
    parser.add_argument("--own-time", action="store_true", help="rank by own time instead of cumulative time")
    parser.add_argument("--per-message", action="store_true", help="each message's time, first vs last cycle")
    parser.add_argument("--no-profile", action="store_true", help="time only (profiling adds overhead)")
    parser.add_argument("--production", action="store_true",
                        help="production profile: PostgreSQL, Redis and RabbitMQ (a scratch database, key prefix and queue)")
    args = parser.parse_args()

    cycle = len(MESSAGES)
    windows = {} if args.no_profile else {
        "early": range(0, cycle), "late": range(args.turns - cycle, args.turns),
    }
    names = production_store_names() if args.production else {}
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.update(SERVER_ENV, DATABASE_URL=f"sqlite:///{scratch}/service.db", **names)
        actions = start_action_server(args.actions_port, Path(scratch) / "actions.log")
        try:
            quiet_logging()

            async def load():
                if args.production:
                    return await load_production_agent(args.actions_port)
                return load_agent(Path(scratch), args.actions_port)

            runs, profiles = asyncio.run(run(load, args.turns, args.conversations, windows))
        finally:
            actions.terminate()
            actions.wait(timeout=20)
            if names:
                remove_production_stores(names)

    for latencies in runs:
        early, late = latencies[:cycle], latencies[-cycle:]
        print(f"turns 1-{cycle}: mean {statistics.fmean(early):5.1f} ms, median {statistics.median(early):5.1f} ms;  "
              f"turns {args.turns - cycle + 1}-{args.turns}: mean {statistics.fmean(late):5.1f} ms, "
              f"median {statistics.median(late):5.1f} ms")
    if args.per_message:
        print("\nper message (median over conversations, ms; first cycle -> last cycle):")
        for index, text in enumerate(MESSAGES):
            first = statistics.median(run_[index] for run_ in runs)
            last = statistics.median(run_[args.turns - cycle + index] for run_ in runs)
            print(f"  {first:6.1f} -> {last:6.1f}  {text}")
    if not profiles:
        return 0
    turns_profiled = cycle * args.conversations
    column = 2 if args.own_time else 3
    before = per_turn(profiles["early"], turns_profiled, column)
    after = per_turn(profiles["late"], turns_profiled, column)
    growth = sorted(((after.get(k, 0) - before.get(k, 0), k) for k in set(before) | set(after)), reverse=True)
    kind = "own" if args.own_time else "cumulative"
    print(f"\nfunctions whose {kind} time per turn grew most (ms; early -> late):")
    for delta, (filename, line, name) in growth[: args.top]:
        where = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        print(f"  {delta:+7.2f}  {before.get((filename, line, name), 0):7.2f} -> "
              f"{after.get((filename, line, name), 0):7.2f}  {name}  ({where}:{line})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
