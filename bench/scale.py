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
    .venv/bin/python bench/scale.py --smoke    # does it all run? 3 turns per profile (about a minute)
    .venv/bin/python bench/scale.py --parts scale --instances 2 --conversations 10,50
"""
from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, when run as a script
from bot.settings import ROOT  # noqa: E402

BENCH = ROOT / "bench"

# The benchmark by job; this file is the command line and the plan of a run.
from bench import scale_report  # noqa: E402  the goals, the tables, scale.json and scale.md
from bench.mix import MESSAGES  # noqa: E402  the message mix (shared with latency.py)
from bench.scale_load import load, long_conversation, warm_up  # noqa: E402  the load generator
from bench.scale_machine import CORES, QUIET, loadavg, log, wait_for_quiet  # noqa: E402  /proc, load average
from bench.scale_servers import ACTIONS_PORT, RASA_PORTS, embedded, production  # noqa: E402  our bot
from bench.scale_stock import (  # noqa: E402  the stock bot and training
    CACHE, STOCK_ACTIONS_PORT, STOCK_RASA_PORT, measure_training, stock_model, stock_servers)

PARTS = ["train", "startup", "scale", "long", "stock", "embedded"]


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


def measured_load(urls: Sequence[str], args: argparse.Namespace, users: int, mode: str,
                  sticky: bool = False) -> Dict[str, Any]:
    """One level of the scale part (``users`` conversations, typing or load), undisturbed."""
    return undisturbed(
        lambda: load(urls, users, messages=args.messages, turns=args.turns, typing=mode == "typing", sticky=sticky),
        lambda row: row["cpu"]["other_busy_percent"], args)


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
            results["scale"].append({"setup": setup, **measured_load(urls, args, users, mode)})
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
    ours = dict(rasa_ports=args.rasa_ports, actions_port=args.actions_port)
    # The workload of the comparison, the same for ours and stock: 10 conversations and the long
    # conversation (--smoke: the scale levels, no long conversation).
    compare_levels, compare_long = (args.conversations, None) if args.smoke else ([10], args.long_turns)

    if "train" in parts:
        results["training"] = measure_training()
        results["training"]["loadavg_after"] = loadavg()
        log(f"training: {results['training']}")
    results["model_mb"] = round((ROOT / "models" / "triage.tar.gz").stat().st_size / 2**20, 1)

    stock = stock_model(args.retrain_stock) if "stock" in parts else None  # train first: nothing else runs then

    # Our configuration, production profile, one instance: start-up, scale, long conversation.
    levels_1 = args.conversations if "scale" in parts and 1 in args.instances else (
        compare_levels if "stock" in parts else [])
    long_1 = args.long_turns if parts & {"long", "stock"} else None
    if parts & {"startup", "scale", "long", "stock"} and (levels_1 or long_1 or "startup" in parts):
        with production(1, logs / "production-1", **ours) as (servers, startup):
            results["startup_seconds"]["production, 1 instance"] = startup[str(servers.rasa_port)]
            workload(servers.urls, args, levels_1, long_1, results, "production-1")

    if "scale" in parts and 2 in args.instances:
        with production(2, logs / "production-2", **ours) as (servers, startup):
            workload(servers.urls, args, args.conversations, None, results, "production-2")
            for users in [users for users in args.conversations if users > 1] if args.sticky else []:
                results["scale"].append({"setup": "production-2-sticky",
                                         **measured_load(servers.urls, args, users, "load", sticky=True)})

    if "embedded" in parts:
        with embedded(1, logs / "embedded", **ours) as (servers, startup):
            results["startup_seconds"]["embedded"] = startup[str(servers.rasa_port)]
            workload(servers.urls, args, compare_levels, compare_long, results, "embedded")

    if stock:
        results["stock_model"] = {key: value for key, value in stock.items() if key != "fingerprint"}
        rasa_port, actions_port = args.stock_ports
        with stock_servers(Path(stock["model"]), logs / "stock", rasa_port, actions_port) as (servers, startup):
            results["startup_seconds"]["stock"] = startup[str(servers.rasa_port)]
            workload(servers.urls, args, compare_levels, compare_long, results, "stock")

    results["machine"]["loadavg_at_end"] = loadavg()
    results["goals"] = scale_report.goals(results)
    return results


def ports(text: str) -> List[int]:
    return [int(value) for value in text.split(",")]


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
    parser.add_argument("--smoke", action="store_true",
                        help="does it all run? (about a minute, figures not worth keeping): one conversation of "
                             "3 turns without pauses on each profile (production, 1 instance; embedded), no "
                             "training, long conversation or stock, one attempt; writes "
                             "bench/results/scale-smoke.json unless --out")
    parser.add_argument("--rasa-ports", default=",".join(map(str, RASA_PORTS)), metavar="PORT,PORT",
                        help="our Rasa instances' ports, the first and the second (default %(default)s)")
    parser.add_argument("--actions-port", type=int, default=ACTIONS_PORT,
                        help="our action server's port (default %(default)s)")
    parser.add_argument("--stock-ports", default=f"{STOCK_RASA_PORT},{STOCK_ACTIONS_PORT}", metavar="RASA,ACTIONS",
                        help="the stock bot's Rasa and action server ports (default %(default)s)")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "scale.json")
    parser.add_argument("--render", action="store_true",
                        help="only print the Markdown tables of an earlier run (--out), measure nothing")
    args = parser.parse_args()
    if args.quick and args.smoke:
        parser.error("--quick or --smoke, not both")
    if args.quick:
        defaults = {"parts": ",".join(p for p in PARTS if p != "train"), "conversations": "1,10",
                    "messages": 20, "long_turns": 60}
    elif args.smoke:
        defaults = {"parts": "startup,scale,embedded", "instances": "1", "conversations": "1", "modes": "load",
                    "turns": 3, "messages": 1, "attempts": 1, "out": BENCH / "results" / "scale-smoke.json"}
    else:
        defaults = {}
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
    args.rasa_ports, args.stock_ports = ports(args.rasa_ports), ports(args.stock_ports)
    if len(args.rasa_ports) < max(args.instances) or len(args.stock_ports) != 2:
        parser.error("--rasa-ports: a port per instance; --stock-ports: two ports")

    if args.render:
        print(scale_report.render(args.out))
        return 0
    QUIET.update(timeout=args.wait_for_quiet, max_load=args.max_load)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers and clean up on SIGTERM too
    results = run_all(args)
    tables = scale_report.write(results, args.out)
    print(tables)
    log(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
