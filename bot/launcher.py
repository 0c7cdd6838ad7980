"""Start the action server and the Rasa server together, stop them together.

``make run`` runs ``python -m bot.launcher``: both servers in the foreground
until Ctrl-C. Tests and benchmarks use :class:`BotServers` to run a private
pair on other ports with their own tracker database.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import yaml

from bot.settings import (
    CHANNEL_ENV_DEFAULTS,
    CREDENTIALS,
    DATA_DIR,
    EMBEDDED_ENDPOINTS,
    MODEL,
    PRODUCTION_ENDPOINTS,
    ROOT,
    endpoints_file,
    profile_env_defaults,
)

VENV_BIN = Path(sys.executable).parent


class BotServers:
    """An action server and one or more Rasa servers as child processes.

    ``profile="production"`` uses endpoints.production.yml (PostgreSQL, Redis,
    RabbitMQ); with several ``rasa_ports`` the instances share those stores.
    """

    def __init__(
        self,
        model: Path = MODEL,
        rasa_port: int = 5005,
        actions_port: int = 5055,
        endpoints: Optional[Path] = None,
        tracker_db: Optional[Path] = None,
        auth_token: Optional[str] = None,
        extra_env: Optional[dict[str, str]] = None,
        log_dir: Optional[Path] = None,
        host: str = "127.0.0.1",
        web_port: Optional[int] = None,
        profile: str = "embedded",
        rasa_ports: Optional[list[int]] = None,
    ) -> None:
        self.model = model
        self.rasa_ports = list(rasa_ports or [rasa_port])
        self.rasa_port = self.rasa_ports[0]
        self.profile = profile
        self.actions_port = actions_port
        self.auth_token = auth_token
        self.host = host
        self.web_port = web_port
        self._endpoints = endpoints or (PRODUCTION_ENDPOINTS if profile == "production" else None)
        self._tracker_db = tracker_db
        self._env = {
            **CHANNEL_ENV_DEFAULTS,
            **profile_env_defaults(profile),
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **(extra_env or {}),
        }
        if profile == "production":
            self._env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{actions_port}/webhook")
            self._env.setdefault("DATABASE_URL", _postgres_url(self._env))
        self._log_dir = log_dir
        self._processes: list[subprocess.Popen] = []
        self._instances: dict[int, subprocess.Popen] = {}
        self._workdir = tempfile.TemporaryDirectory(prefix="triage-bot-")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.rasa_ports]

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, timeout: float = 180.0) -> BotServers:
        for port in (self.actions_port, *self.rasa_ports, self.web_port):
            if port:
                _ensure_port_free(port)
        try:
            self.start_actions(timeout)
            for port in self.rasa_ports:
                self.start_instance(port, timeout)
            if self.web_port:
                self._spawn("web", self._web_command())
                self._wait_until_up(f"{self.web_url}/widget.js", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_instance(self, port: int, timeout: float = 180.0) -> None:
        """Start (or restart) the Rasa instance on ``port``."""
        self._instances[port] = self._spawn(f"rasa-{port}", self._rasa_command(port))
        self._wait_until_up(f"http://127.0.0.1:{port}/", timeout)

    def kill_instance(self, port: int) -> None:
        """SIGKILL the Rasa instance on ``port``: a crash, nothing flushed."""
        process = self._instances.pop(port)
        process.kill()
        process.wait()
        self._processes.remove(process)

    def start_actions(self, timeout: float = 180.0) -> None:
        # The action server only ever talks to the Rasa server: loopback only.
        self._spawn("actions", self._actions_command(), {"SANIC_HOST": "127.0.0.1"})
        self._wait_until_up(f"http://127.0.0.1:{self.actions_port}/health", timeout)

    def stop_actions(self) -> None:
        """Stop only the action server (the Rasa server keeps answering)."""
        for process in [p for p in self._processes if p.args == self._actions_command()]:
            _stop_process(process)
            self._processes.remove(process)

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in reversed(self._processes):
            _stop_process(process)
        self._processes.clear()
        self._workdir.cleanup()

    def wait(self) -> int:
        """Block until a server exits; then stop the other one."""
        try:
            while all(process.poll() is None for process in self._processes):
                time.sleep(0.5)
            return next(p.returncode for p in self._processes if p.poll() is not None) or 0
        finally:
            self.stop()

    def __enter__(self) -> BotServers:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _actions_command(self) -> list[str]:
        # `rasa run actions` plus /metrics and /health/ready (bot/action_server.py), same flags.
        return [sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", str(self.actions_port)]

    def _web_command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bot.web.server",
            "--host",
            self.host,
            "--port",
            str(self.web_port),
            "--rasa-port",
            str(self.rasa_port),
        ]

    def _rasa_command(self, port: int) -> list[str]:
        command = [
            str(VENV_BIN / "rasa"),
            "run",
            "--enable-api",
            "--cors",
            "*",
            "--model",
            str(self.model),
            "--port",
            str(port),
            "--interface",
            self.host,
            "--endpoints",
            str(self._endpoints_file()),
            "--credentials",
            str(CREDENTIALS),
        ]
        if self.auth_token:
            command += ["--auth-token", self.auth_token]
        return command

    def _endpoints_file(self) -> Path:
        """The endpoints file, pointed at this action server's port (and tracker database)."""
        if self.profile == "production":
            assert self._endpoints is not None  # __init__ defaults it to PRODUCTION_ENDPOINTS
            return self._endpoints  # its action endpoint comes from ACTION_ENDPOINT_URL
        endpoints = yaml.safe_load((self._endpoints or EMBEDDED_ENDPOINTS).read_text(encoding="utf-8"))
        endpoints["action_endpoint"] = {
            **(endpoints.get("action_endpoint") or {}),
            "url": f"http://127.0.0.1:{self.actions_port}/webhook",
        }
        if self._tracker_db:
            endpoints["tracker_store"]["db"] = str(self._tracker_db)
        path = Path(self._workdir.name) / "endpoints.yml"
        path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), encoding="utf-8")
        return path

    def _spawn(self, name: str, command: list[str], env: Optional[dict[str, str]] = None) -> subprocess.Popen:
        if self._log_dir:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            output = (self._log_dir / f"{name}.log").open("ab")
        else:
            output = None  # inherit: the user sees the logs
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**self._env, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
        self._processes.append(process)
        return process

    def _wait_until_up(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self._processes):
                raise RuntimeError(f"a server exited while starting ({url}); see its log")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def _postgres_url(env: dict[str, str]) -> str:
    """The tickets' database in the production profile: the conversations' PostgreSQL."""
    password = f":{env['POSTGRES_PASSWORD']}" if env.get("POSTGRES_PASSWORD") else ""
    return (
        f"postgresql://{env['POSTGRES_USER']}{password}@{env['POSTGRES_HOST']}:"
        f"{env['POSTGRES_PORT']}/{env['POSTGRES_DB']}"
    )


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"Port {port} is already in use: stop what runs there first.")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the action server and the Rasa server(s).")
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
        "--web-port",
        type=int,
        default=int(os.environ.get("WEB_PORT", 8080)),
        help="the page with the chat widget (0: none)",
    )
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--host", default=os.environ.get("RASA_HOST", "0.0.0.0"))
    args = parser.parse_args(argv)
    if args.instances > 1 and args.profile != "production":
        parser.error("several instances need shared stores: use --profile production")

    DATA_DIR.mkdir(exist_ok=True)
    servers = BotServers(
        model=args.model,
        rasa_ports=[args.port + offset for offset in range(args.instances)],
        actions_port=args.actions_port,
        endpoints=endpoints_file(args.profile),
        auth_token=os.environ.get("RASA_AUTH_TOKEN") or None,
        host=args.host,
        web_port=args.web_port or None,
        profile=args.profile,
    )
    # Ctrl-C reaches the children through the process group; wait for them.
    # A plain SIGTERM (a supervisor stopping us) is passed on as Ctrl-C.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: servers.stop())
    servers.start()
    instances = ", ".join(f"{url}/webhooks/rest/webhook" for url in servers.urls)
    page = f", chat page http://localhost:{servers.web_port}/" if servers.web_port else ""
    print(
        f"\nBot ready ({args.profile}): REST {instances}, socket.io {servers.url}/socket.io{page}. Ctrl-C stops.\n",
        flush=True,
    )
    return servers.wait()


if __name__ == "__main__":
    raise SystemExit(main())
