"""What the bot runs: the action server, the Rasa instances, the widget page and the gateway.

:func:`plan` turns a :class:`Layout` (profile, ports, files) into the
:class:`Program` list the process supervisor runs (bot/launcher/supervisor.py);
``make run``, ``make cluster``, the tests and the benchmarks all start the bot
from the same plan.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from bot.settings import CHANNEL_ENV_DEFAULTS, CREDENTIALS, EMBEDDED_ENDPOINTS, MODEL, ROOT, profile_env_defaults

VENV_BIN = Path(sys.executable).parent
ACTIONS = "actions"
WEB = "web"
GATEWAY = "gateway"


@dataclass(frozen=True)
class Program:
    """One supervised process: how to start it and the URL that answers once it serves."""

    name: str
    command: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    # Seconds between the stop signal and SIGKILL; all programs stop at once,
    # so the whole bot is down within this (plus the supervisor's own second).
    stop_wait: int = 10


@dataclass
class Layout:
    """Where each part of the bot listens, and the files and environment it runs with."""

    profile: str = "embedded"
    rasa_ports: list[int] = field(default_factory=lambda: [5005])
    actions_port: int = 5055
    web_port: Optional[int] = None
    gateway_port: Optional[int] = None
    host: str = "127.0.0.1"
    model: Path = MODEL
    endpoints: Optional[Path] = None
    tracker_db: Optional[Path] = None
    auth_token: Optional[str] = None
    credentials: Path = CREDENTIALS
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """What every program sees: defaults, then the caller's environment, then ``extra_env``."""
        env = {
            **CHANNEL_ENV_DEFAULTS,
            **profile_env_defaults(self.profile),
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **self.extra_env,
        }
        if self.auth_token:
            # The agent desk (web server) reaches the conversations through Rasa's HTTP API.
            env["RASA_AUTH_TOKEN"] = self.auth_token
        if self.profile == "production":
            env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{self.actions_port}/webhook")
            env.setdefault("DATABASE_URL", postgres_url(env))
        return env

    @property
    def public_port(self) -> int:
        """The port users reach the bot on: the gateway's, else the first instance's."""
        return self.gateway_port or self.rasa_ports[0]

    def ports(self) -> list[int]:
        return [p for p in (self.actions_port, *self.rasa_ports, self.web_port, self.gateway_port) if p]


def plan(layout: Layout, run_dir: Path) -> list[Program]:
    """The programs of ``layout``; generated files (endpoints, gateway config) go to ``run_dir``."""
    endpoints = endpoints_file(layout, run_dir)
    programs = [actions_program(layout)]
    programs += [rasa_program(layout, port, endpoints) for port in layout.rasa_ports]
    if layout.web_port:
        programs.append(web_program(layout))
    if layout.gateway_port:
        from bot.launcher.gateway import gateway_program  # only the cluster needs nginx

        programs.append(gateway_program(layout, run_dir))
    return programs


def rasa_program_name(port: int) -> str:
    return f"rasa-{port}"


def actions_program(layout: Layout) -> Program:
    # `rasa run actions` plus /metrics and /health/ready (bot/action_server.py), same flags.
    command = [sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", str(layout.actions_port)]
    # The action server only ever talks to the Rasa server: loopback only.
    return Program(ACTIONS, command, f"http://127.0.0.1:{layout.actions_port}/health", env={"SANIC_HOST": "127.0.0.1"})


def rasa_program(layout: Layout, port: int, endpoints: Path) -> Program:
    command = [
        str(VENV_BIN / "rasa"),
        "run",
        "--enable-api",
        "--cors",
        "*",
        "--model",
        str(layout.model),
        "--port",
        str(port),
        "--interface",
        layout.host,
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(layout.credentials),
    ]
    if layout.auth_token:
        command += ["--auth-token", layout.auth_token]
    return Program(rasa_program_name(port), command, f"http://127.0.0.1:{port}/")


def web_program(layout: Layout) -> Program:
    assert layout.web_port
    command = [
        sys.executable,
        "-m",
        "bot.web.server",
        "--host",
        layout.host,
        "--port",
        str(layout.web_port),
        # The widget talks to the gateway when there is one.
        "--rasa-port",
        str(layout.public_port),
    ]
    return Program(WEB, command, f"http://127.0.0.1:{layout.web_port}/widget.js")


def endpoints_file(layout: Layout, run_dir: Path) -> Path:
    """The endpoints file, pointed at this action server's port (and tracker database)."""
    if layout.profile == "production":
        from bot.settings import PRODUCTION_ENDPOINTS

        return layout.endpoints or PRODUCTION_ENDPOINTS  # the action endpoint comes from ACTION_ENDPOINT_URL
    endpoints = yaml.safe_load((layout.endpoints or EMBEDDED_ENDPOINTS).read_text(encoding="utf-8"))
    endpoints["action_endpoint"] = {
        **(endpoints.get("action_endpoint") or {}),
        "url": f"http://127.0.0.1:{layout.actions_port}/webhook",
    }
    if layout.tracker_db:
        endpoints["tracker_store"]["db"] = str(layout.tracker_db)
    path = run_dir / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), encoding="utf-8")
    return path


def postgres_url(env: dict[str, str]) -> str:
    """The tickets' database in the production profile: the conversations' PostgreSQL."""
    password = f":{env['POSTGRES_PASSWORD']}" if env.get("POSTGRES_PASSWORD") else ""
    return (
        f"postgresql://{env['POSTGRES_USER']}{password}@{env['POSTGRES_HOST']}:"
        f"{env['POSTGRES_PORT']}/{env['POSTGRES_DB']}"
    )
