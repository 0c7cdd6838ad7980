"""Where a Rasa server spends its CPU under load (py-spy on the running server).

Starts the bot as `make bench-scale` does (production profile by default: its
own PostgreSQL database, Redis prefix and RabbitMQ queue), sends the bench
message mix (bench/mix.py) from 10 conversations without pauses over REST
(Locust, bench/locustfile.py),
and samples the first Rasa instance with py-spy meanwhile. Prints the CPU each
process used per message and the share of the Rasa process's samples per part
of a message's work (NLU, policies, tracker store, ...), then the functions
with the most own time. The raw samples (py-spy's collapsed stacks) stay in
bench/results/profile-<profile>.txt for a flame graph.

    .venv/bin/python bench/profile_server.py
    .venv/bin/python bench/profile_server.py --profile embedded --messages 2000
    .venv/bin/python bench/profile_server.py --instances 2   # behind the gateway; samples the first

Sampling costs the profiled process a few percent; compare shares, and take
throughput from `make bench-scale`.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Counter, Dict, Iterable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, when run as a script

from bench.scale_locust import locust_run, warm_up  # noqa: E402
from bench.scale_servers import ACTIONS_PORT, GATEWAY_PORT, RASA_PORTS, embedded, production  # noqa: E402
from bot.launcher import VENV_BIN  # noqa: E402
from bot.launcher.programs import rasa_program_name  # noqa: E402
from bot.settings import ROOT  # noqa: E402

# The first rule a sample's stack matches names its part (the order matters:
# NLU and policies run inside the HTTP handler, the broker inside the save).
PARTS: List[Tuple[str, Tuple[str, ...]]] = [
    ("NLU (parse the message)", ("_parse_message_with_graph",)),
    ("policies (predict the next action)", ("_predict_next_with_tracker",)),
    ("event broker (RabbitMQ)", ("brokers/pika.py", "rasa_compat/pika_publish.py", "aio_pika/", "aiormq/")),
    ("tracker store: save", ("save (bot/stores/tracker_store.py", "save (rasa/core/tracker_store.py")),
    ("tracker store: retrieve", ("retrieve (bot/stores/tracker_store.py", "retrieve (rasa/core/tracker_store.py")),
    ("custom action calls", ("rasa/core/actions/action.py", "rasa/core/actions/forms.py")),
    ("lock store", ("lock_store.py",)),
    ("NLG (response texts)", ("nlg",)),
    ("HTTP and event loop", ("sanic/", "aiohttp/", "bot/channels/")),
]


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is not installed: `make install` installs it into .venv")
    return found


def samples(raw: Path) -> Iterable[Tuple[List[str], int]]:
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield [_short(frame) for frame in stack.split(";")], int(count)


def _short(frame: str) -> str:
    return re.sub(r"\(/\S*?site-packages/", "(", frame).replace(str(ROOT) + "/", "")


def shares(raw: Path) -> Tuple[Dict[str, float], List[Tuple[str, float]], int]:
    """Share of samples per part, and the functions with the most own time."""
    parts: Counter[str] = collections.Counter()
    own: Counter[str] = collections.Counter()
    total = 0
    for frames, count in samples(raw):
        total += count
        stack = ";".join(frames)
        part = next((name for name, keys in PARTS if any(key in stack for key in keys)), "other")
        parts[part] += count
        own[frames[-1]] += count
    if not total:
        raise SystemExit(f"py-spy recorded no samples ({raw})")
    return ({name: count / total for name, count in parts.most_common()},
            [(frame, count / total) for frame, count in own.most_common(15)], total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["production", "embedded"], default="production")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--rasa-ports", default=",".join(map(str, RASA_PORTS)), help="one port per instance")
    parser.add_argument("--actions-port", type=int, default=ACTIONS_PORT)
    parser.add_argument("--gateway-port", type=int, default=GATEWAY_PORT, help="with --instances over 1")
    args = parser.parse_args()

    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    raw = results / f"profile-{args.profile}.txt"
    raw.unlink(missing_ok=True)
    spy = py_spy()
    ports = dict(rasa_ports=[int(port) for port in args.rasa_ports.split(",")], actions_port=args.actions_port)
    if args.profile == "production":
        gateway = args.gateway_port if args.instances > 1 else None
        started = production(args.instances, results / "logs", gateway_port=gateway, **ports)
    else:
        started = embedded(args.instances, results / "logs", **ports)
    with started as (servers, _startup):
        warm_up(servers.urls)
        assert servers.supervisor
        pid = servers.supervisor.pid(rasa_program_name(servers.rasa_ports[0]))
        recorder = subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(raw),
             "--rate", str(args.rate), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # py-spy attaches
        outcome = locust_run(servers.url, args.conversations, messages=args.messages, turns=20, typing=False,
                             channel="rest", out=results / f"profile-{args.profile}-locust", instances=args.instances)
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=60)
    if not raw.exists():
        raise SystemExit("py-spy recorded nothing: attaching to a process needs ptrace permission "
                         "(run as root, or set kernel.yama.ptrace_scope to 0)")

    by_part, by_function, total = shares(raw)
    print(f"\n{outcome['messages_per_second']} messages/s; CPU per message (ms):")
    print(json.dumps(outcome["cpu"]["cpu_ms_per_message"]))
    # Each instance answers its share of the messages: the Rasa CPU per message is the same on each.
    rasa_ms = outcome["cpu"]["cpu_ms_per_message"].get("rasa", 0.0)
    print(f"\nRasa instance {servers.rasa_ports[0]}: {total} samples; share per part "
          f"(of {rasa_ms:.1f} ms of Rasa CPU per message):")
    for name, share in by_part.items():
        print(f"  {100 * share:5.1f}%  {share * rasa_ms:5.1f} ms  {name}")
    print("\nmost own time:")
    for frame, share in by_function:
        print(f"  {100 * share:5.1f}%  {frame}")
    print(f"\nraw samples: {raw}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
