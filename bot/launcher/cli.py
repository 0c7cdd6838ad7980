"""``python -m bot.launcher``: the bot in the foreground under supervisord, until Ctrl-C or SIGTERM.

``make run`` starts the embedded profile (action server, Rasa, widget page);
``make cluster`` the production profile with two instances behind the
gateway. A program that dies is restarted while the others keep answering;
Ctrl-C or SIGTERM stops everything within 15 seconds and exits 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any, Optional

from bot.launcher.programs import Layout, Program, plan
from bot.launcher.servers import answers, ensure_port_free
from bot.launcher.supervisor import Supervisor, write_config
from bot.settings import DATA_DIR, MODEL, endpoints_file

RUN_DIR = DATA_DIR / "run"  # supervisord.conf, its control socket, the gateway's config


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the bot's servers under supervision.")
    parser.add_argument("--port", type=int, default=5005, help="the (first) Rasa instance")
    parser.add_argument(
        "--instances", type=int, default=1, help="Rasa instances on consecutive ports (production profile only)"
    )
    parser.add_argument(
        "--profile",
        choices=["embedded", "production"],
        default="embedded",
        help="embedded: SQLite, in-process locks; production: endpoints.production.yml",
    )
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument(
        "--web-port", type=int, default=int(os.environ.get("WEB_PORT", 8080)), help="the chat widget page (0: none)"
    )
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=None,
        help="nginx in front of the instances (default 8000 with several instances, else none; 0: none)",
    )
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--host", default=os.environ.get("RASA_HOST", "0.0.0.0"))
    parser.add_argument("--tracker-db", type=Path, help="embedded profile: the conversations' SQLite file")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="where the generated configuration goes")
    args = parser.parse_args(argv)
    if args.instances > 1 and args.profile != "production":
        parser.error("several instances need shared stores: use --profile production")
    if args.gateway_port is None:
        args.gateway_port = int(os.environ.get("GATEWAY_PORT", 8000)) if args.instances > 1 else 0
    return args


def layout_from(args: argparse.Namespace) -> Layout:
    return Layout(
        profile=args.profile,
        rasa_ports=[args.port + offset for offset in range(args.instances)],
        actions_port=args.actions_port,
        web_port=args.web_port or None,
        gateway_port=args.gateway_port or None,
        host=args.host,
        model=args.model,
        endpoints=endpoints_file(args.profile),
        tracker_db=args.tracker_db,
        auth_token=os.environ.get("RASA_AUTH_TOKEN") or None,
    )


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    layout = layout_from(args)
    for port in layout.ports():
        ensure_port_free(port)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    programs = plan(layout, args.run_dir)
    config = write_config(programs, args.run_dir, log_dir=None)
    supervisor = Supervisor(config, layout.environment()).start()
    assert supervisor.process

    def stop(*_: Any) -> None:
        if supervisor.running:
            supervisor.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=announce_when_ready, args=(layout, programs, supervisor), daemon=True).start()
    return supervisor.process.wait()


def announce_when_ready(layout: Layout, programs: list[Program], supervisor: Supervisor) -> None:
    waiting = list(programs)
    while waiting and supervisor.running:
        waiting = [program for program in waiting if not answers(program.ready_url)]
        threading.Event().wait(0.5)
    if supervisor.running:
        print(f"\n{ready_banner(layout)}\n", flush=True)


def ready_banner(layout: Layout) -> str:
    entry = f"http://localhost:{layout.public_port}"
    if layout.gateway_port:
        instances = ", ".join(f":{port}" for port in layout.rasa_ports)
        page = f", the chat page {entry}/" if layout.web_port else ""
        return (
            f"Bot ready ({layout.profile}): one entry point {entry} for REST ({entry}/webhooks/rest/webhook), "
            f"the HTTP API, WeChat, socket.io{page}; Rasa instances on {instances}. Ctrl-C stops."
        )
    page = f", chat page http://localhost:{layout.web_port}/" if layout.web_port else ""
    return (
        f"Bot ready ({layout.profile}): REST {entry}/webhooks/rest/webhook, socket.io {entry}/socket.io{page}. "
        "Ctrl-C stops."
    )
