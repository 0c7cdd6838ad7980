"""Scale benchmark: Locust against our bot (one instance, the cluster behind its gateway) and stock Rasa.

The load is Locust's (bench/locustfile.py: people running the case-flow mix of
bench/mix.py over REST or socket.io, typing or without pauses), run headless
by bench/scale_locust.py; its CSV output is what the tables are made from.
Every configuration gets the same Locust scenario in the same run. Parts:

  train     `rasa train --force` of config.yml into a temporary directory: wall
            time, peak RSS of the process tree, model size
  startup   one instance: from process start to the first REST answer
  scale     one instance on the production profile (PostgreSQL tracker store,
            Redis lock store, RabbitMQ events), reached directly: --conversations
            people at once in two modes, "typing" (each person pauses 0.5-1.5 s
            before the next message) and "load" (no pauses: capacity), on each
            of --channels (REST, socket.io); p50/p95/p99, messages/s, CPU and
            resident memory of each process
  long      one conversation of 200 turns: turns 1-20 against 181-200
            (the same 20 messages, only the conversation's length differs)
  stock     the stock configuration (bench/stock/: the pipeline and policies
            `rasa init` writes, trained on our data and domain, Rasa's SQL
            tracker store on SQLite, in-memory lock store), same Locust
            scenario over REST: --conversations people (typing and load) and
            the long conversation
  embedded  our configuration on the embedded profile (SQLite, in-process
            locks), same workload as stock: the gain with the same kind of stores
  before    the scale part's one instance again with issue 19's Rasa patches
            left out (RASA_COMPAT_SKIP): their effect on a running server, in
            the same run (REST)
  cluster   1, 2 and 3 instances (--cluster-instances) on the production
            profile behind the cluster's single entry point (nginx, round robin
            per request, bot/launcher/gateway.py) at 10, 50 and 200 people
            (--cluster-users), typing and load, over REST; plotted as messages/s
            and p95 against people, one line per instance count
            (docs/scale_cluster.png, or --plot)

Each production run gets its own PostgreSQL database, Redis key prefix and
RabbitMQ queue, removed afterwards. The stock model is trained into
bench/.cache/ and reused while data/, domain.yml and bench/stock/config.yml are
unchanged. CPU time per process comes from /proc, so the tables show where the
time goes and how much other work ran meanwhile (a run disturbed by other work
is measured again); resident memory of each Rasa instance and of the action
server is read at rest (after the warm-up) and every half second under load.
Writes bench/results/scale.json (Locust's CSV files in bench/results/locust/)
and prints Markdown tables for the README (also to bench/results/scale.md;
`--render` prints them again from the JSON).

    .venv/bin/python bench/scale.py            # everything (about 45 minutes, plus 4 to train the stock model)
    .venv/bin/python bench/scale.py --wait-for-quiet 900   # as measured for the README (make bench-scale)
    .venv/bin/python bench/scale.py --quick    # about 10 minutes: fewer messages, no training, cluster at 10 and 50
    .venv/bin/python bench/scale.py --smoke    # does it all run? a few messages per part (a few minutes)
    .venv/bin/python bench/scale.py --parts cluster --cluster-instances 1,3 --cluster-users 50
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
from bench import scale_report  # noqa: E402  the goals, the tables, the plot, scale.json and scale.md
from bench.mix import MESSAGES  # noqa: E402  the message mix (shared with latency.py and the locustfile)
from bench.scale_locust import CHANNELS, locust_run, warm_up  # noqa: E402  the load: headless Locust
from bench.scale_long import long_conversation  # noqa: E402  one 200-turn conversation
from bench.scale_machine import CORES, QUIET, loadavg, log, resident_mb, wait_for_quiet  # noqa: E402  /proc
from bench.scale_servers import ACTIONS_PORT, GATEWAY_PORT, RASA_PORTS, embedded, production  # noqa: E402
from bench.scale_stock import (  # noqa: E402  the stock bot and training
    CACHE, STOCK_ACTIONS_PORT, STOCK_RASA_PORT, measure_training, stock_model, stock_servers)

PARTS = ["train", "startup", "scale", "long", "stock", "embedded", "before", "cluster"]
# The Rasa patches of issue 19 (bot/rasa_compat), left out by the "before" part.
ISSUE_19_PATCHES = "pika_publish,memoization_debug,prediction_states,diet_predict,endpoint_session"


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


class Run:
    """One measured level after another against one set-up (its URL: an instance or the gateway)."""

    def __init__(self, args: argparse.Namespace, results: Dict[str, Any], setup: str, url: str,
                 instances: int = 1) -> None:
        self.args, self.results, self.setup, self.url, self.instances = args, results, setup, url, instances

    def level(self, users: int, mode: str, channel: str = "rest") -> None:
        out = self.args.locust_dir / f"{self.setup}-{users}-{mode}-{channel}"
        row = undisturbed(
            lambda: locust_run(self.url, users, messages=self.args.messages, turns=self.args.turns,
                               typing=mode == "typing", channel=channel, out=out, instances=self.instances,
                               max_seconds=self.args.level_timeout),
            lambda row: row["cpu"]["other_busy_percent"], self.args)
        self.results["scale"].append({"setup": self.setup, **row})
        time.sleep(2)

    def levels(self, users_levels: Sequence[int], channels: Sequence[str] = ("rest",)) -> None:
        for users in users_levels:
            for channel in channels:
                for mode in self.args.modes:
                    self.level(users, mode, channel)


def at_rest(results: Dict[str, Any], setup: str) -> None:
    """Resident memory of the set-up's Rasa instances and action server after the warm-up, before any load."""
    results["memory_at_rest"][setup] = resident_mb()


def workload(servers: Any, args: argparse.Namespace, levels: Sequence[int], long_turns: Optional[int],
             results: Dict[str, Any], setup: str, channels: Sequence[str] = ("rest",)) -> None:
    warm_up(servers.urls)
    at_rest(results, setup)
    # The long conversation first: every configuration gets it on a server that has only been warmed up.
    if long_turns:
        log(f"  {setup}: one conversation of {long_turns} turns ...")
        results["long"][setup] = undisturbed(
            lambda: long_conversation(servers.urls[0], long_turns),
            lambda row: max(row["cpu_first_window"]["other_busy_percent"], row["cpu_last_window"]["other_busy_percent"]),
            args)
        figures = results["long"][setup]
        log(f"  {figures['first_window']}: {figures['first_window_mean_ms']} ms, "
            f"{figures['last_window']}: {figures['last_window_mean_ms']} ms")
        time.sleep(2)
    Run(args, results, setup, servers.urls[0]).levels(levels, channels)


def cluster(args: argparse.Namespace, results: Dict[str, Any], logs: Path, ours: Dict[str, Any]) -> None:
    """1, 2, 3 instances behind the gateway, each at every --cluster-users level, over REST."""
    for instances in args.cluster_instances:
        setup = f"cluster-{instances}"
        with production(instances, logs / setup, gateway_port=args.gateway_port, **ours) as (servers, _startup):
            warm_up(servers.urls)
            at_rest(results, setup)
            Run(args, results, setup, servers.url, instances).levels(args.cluster_users)


def run_all(args: argparse.Namespace) -> Dict[str, Any]:
    from importlib.metadata import version  # not `import locust`: it monkey-patches this process for gevent

    results: Dict[str, Any] = {
        "machine": {"cores": CORES, "rasa": version("rasa"), "locust": version("locust"),
                    "loadavg_at_start": loadavg(),
                    "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "settings": {key: str(value) if isinstance(value, Path) else value
                     for key, value in vars(args).items()},
        "conversation": MESSAGES, "startup_seconds": {}, "scale": [], "long": {}, "memory_at_rest": {},
    }
    if args.wait_for_quiet:
        results["machine"]["before_start"] = wait_for_quiet(args.wait_for_quiet, args.max_load)
        results["machine"]["loadavg_at_start"] = loadavg()
    logs = CACHE / "logs"
    parts = set(args.parts)
    shutil.rmtree(logs, ignore_errors=True)
    shutil.rmtree(args.locust_dir, ignore_errors=True)
    ours = dict(rasa_ports=args.rasa_ports, actions_port=args.actions_port)
    # The workload of the comparison, the same for ours and stock: --conversations people and the
    # long conversation (--smoke: no long conversation).
    compare_long = None if args.smoke else args.long_turns

    if "train" in parts:
        results["training"] = measure_training()
        results["training"]["loadavg_after"] = loadavg()
        log(f"training: {results['training']}")
    results["model_mb"] = round((ROOT / "models" / "triage.tar.gz").stat().st_size / 2**20, 1)

    stock = stock_model(args.retrain_stock) if "stock" in parts else None  # train first: nothing else runs then

    # Our configuration, production profile, one instance reached directly: start-up, scale, long conversation.
    levels_1 = args.conversations if parts & {"scale", "stock"} else []
    long_1 = args.long_turns if parts & {"long", "stock"} else None
    if parts & {"startup", "scale", "long", "stock"}:
        with production(1, logs / "production-1", **ours) as (servers, startup):
            results["startup_seconds"]["production, 1 instance"] = startup[str(servers.rasa_port)]
            workload(servers, args, levels_1, long_1, results, "production-1", args.channels)

    if "embedded" in parts:
        with embedded(1, logs / "embedded", **ours) as (servers, startup):
            results["startup_seconds"]["embedded"] = startup[str(servers.rasa_port)]
            workload(servers, args, args.conversations, compare_long, results, "embedded", args.channels)

    if "before" in parts:
        with production(1, logs / "production-1-before", extra_env={"RASA_COMPAT_SKIP": ISSUE_19_PATCHES},
                        **ours) as (servers, _startup):
            workload(servers, args, args.conversations, None, results, "production-1-before")

    if stock:
        results["stock_model"] = {key: value for key, value in stock.items() if key != "fingerprint"}
        rasa_port, actions_port = args.stock_ports
        with stock_servers(Path(stock["model"]), logs / "stock", rasa_port, actions_port) as (servers, startup):
            results["startup_seconds"]["stock"] = startup[str(servers.rasa_port)]
            # Stock Rasa as `rasa init` configures it has the REST channel only.
            workload(servers, args, args.conversations, compare_long, results, "stock")

    if "cluster" in parts:
        cluster(args, results, logs, ours)
        if args.plot:
            scale_report.plot_cluster(results, args.plot)
            log(f"plotted {args.plot}")

    results["machine"]["loadavg_at_end"] = loadavg()
    results["goals"] = scale_report.goals(results)
    return results


def numbers(text: str) -> List[int]:
    return [int(value) for value in text.split(",") if value.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, any of {','.join(PARTS)} (default: all)")
    parser.add_argument("--conversations", default="10",
                        help="people at once for the scale, embedded and stock parts (default %(default)s)")
    parser.add_argument("--channels", default=",".join(CHANNELS),
                        help="channels of our bot in the scale and embedded parts (stock: REST only)")
    parser.add_argument("--cluster-instances", default="1,2,3", help="instance counts behind the gateway")
    parser.add_argument("--cluster-users", default="10,50,200", help="people at once for the cluster part")
    parser.add_argument("--modes", default="typing,load", help="typing (0.5-1.5 s pauses), load (no pauses)")
    parser.add_argument("--turns", type=int, default=20, help="turns per conversation")
    parser.add_argument("--messages", type=int, default=200,
                        help="at least this many messages per level (people run whole conversations back to "
                             "back: 200 people of 20 turns send 4000)")
    parser.add_argument("--long-turns", type=int, default=200, help="turns of the long conversation (multiple of 20)")
    parser.add_argument("--level-timeout", type=int, default=900, metavar="SECONDS",
                        help="Locust's --run-time for one level: it stops there even if short of --messages")
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
                        help="about 10 minutes: no training, 20 messages per level (whole conversations), "
                             "60-turn long conversation, cluster at 10 and 50 people")
    parser.add_argument("--smoke", action="store_true",
                        help="does it all run? (a few minutes, figures not worth keeping): 2 people of 3 turns "
                             "on each channel without pauses (production, 1 instance; embedded; issue 19's patches "
                             "left out), the cluster "
                             "of 1 and 2 instances behind the gateway; no training, long conversation or "
                             "stock; one attempt; writes bench/results/scale-smoke.json and "
                             "bench/results/scale-smoke.png unless --out / --plot")
    parser.add_argument("--rasa-ports", default=",".join(map(str, RASA_PORTS)), metavar="PORT,PORT,PORT",
                        help="our Rasa instances' ports, one per instance (default %(default)s)")
    parser.add_argument("--actions-port", type=int, default=ACTIONS_PORT,
                        help="our action server's port (default %(default)s)")
    parser.add_argument("--gateway-port", type=int, default=GATEWAY_PORT,
                        help="the cluster's entry point (nginx) (default %(default)s)")
    parser.add_argument("--stock-ports", default=f"{STOCK_RASA_PORT},{STOCK_ACTIONS_PORT}", metavar="RASA,ACTIONS",
                        help="the stock bot's Rasa and action server ports (default %(default)s)")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "scale.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "scale_cluster.png",
                        help="the cluster plot (PNG) (default docs/scale_cluster.png)")
    parser.add_argument("--render", action="store_true",
                        help="only print the Markdown tables of an earlier run (--out) and plot it again "
                             "(--plot), measure nothing")
    args = parser.parse_args()
    if args.quick and args.smoke:
        parser.error("--quick or --smoke, not both")
    if args.quick:
        defaults = {"parts": ",".join(p for p in PARTS if p != "train"), "messages": 20, "long_turns": 60,
                    "cluster_users": "10,50"}
    elif args.smoke:
        defaults = {"parts": "startup,scale,embedded,before,cluster", "conversations": "2", "cluster_instances": "1,2",
                    "cluster_users": "2", "modes": "load", "turns": 3, "messages": 1, "attempts": 1, "level_timeout": 120,
                    "out": BENCH / "results" / "scale-smoke.json", "plot": BENCH / "results" / "scale-smoke.png"}
    else:
        defaults = {}
    for key, value in defaults.items():
        if getattr(args, key) == parser.get_default(key):
            setattr(args, key, value)
    args.parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    args.conversations, args.cluster_users = numbers(args.conversations), numbers(args.cluster_users)
    args.cluster_instances = numbers(args.cluster_instances)
    args.modes = [mode.strip() for mode in args.modes.split(",")]
    args.channels = [channel.strip() for channel in args.channels.split(",")]
    if set(args.modes) - {"typing", "load"}:
        parser.error("--modes: typing and/or load")
    if set(args.channels) - set(CHANNELS):
        parser.error(f"--channels: any of {','.join(CHANNELS)}")
    if args.long_turns < 40 or args.long_turns % len(MESSAGES):
        parser.error(f"--long-turns must be a multiple of {len(MESSAGES)}, at least 40")
    args.rasa_ports, args.stock_ports = numbers(args.rasa_ports), numbers(args.stock_ports)
    if len(args.rasa_ports) < max(args.cluster_instances) or len(args.stock_ports) != 2:
        parser.error("--rasa-ports: a port per instance; --stock-ports: two ports")
    args.locust_dir = args.out.parent / ("locust-smoke" if args.smoke else "locust")

    if args.render:
        print(scale_report.render(args.out, args.plot))
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
