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
from typing import Dict, List, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Defaults for the servers' environment (the caller's environment wins).
# credentials.yml reads the WECHAT_ ones; Rasa refuses an unset ${VAR}, and
# an empty WECHAT_TOKEN keeps the WeChat channel refusing every request.
CHANNEL_ENV_DEFAULTS = {
    "WECHAT_TOKEN": "",
    "WECHAT_APP_ID": "",
    "WECHAT_APP_SECRET": "",
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
    # Bodies over 1 MB get a 413 before Sanic reads them.
    "SANIC_REQUEST_MAX_SIZE": "1048576",
}
VENV_BIN = Path(sys.executable).parent


class BotServers:
    """An action server and a Rasa server as child processes."""

    def __init__(
        self,
        model: Path = ROOT / "models" / "triage.tar.gz",
        rasa_port: int = 5005,
        actions_port: int = 5055,
        endpoints: Optional[Path] = None,
        tracker_db: Optional[Path] = None,
        auth_token: Optional[str] = None,
        extra_env: Optional[Dict[str, str]] = None,
        log_dir: Optional[Path] = None,
        host: str = "127.0.0.1",
        web_port: Optional[int] = None,
    ) -> None:
        self.model = model
        self.rasa_port = rasa_port
        self.actions_port = actions_port
        self.auth_token = auth_token
        self.host = host
        self.web_port = web_port
        self._endpoints = endpoints
        self._tracker_db = tracker_db
        self._env = {
            **CHANNEL_ENV_DEFAULTS, **os.environ,
            "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **(extra_env or {}),
        }
        self._log_dir = log_dir
        self._processes: List[subprocess.Popen] = []
        self._workdir = tempfile.TemporaryDirectory(prefix="triage-bot-")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, timeout: float = 180.0) -> "BotServers":
        for port in (self.actions_port, self.rasa_port, self.web_port):
            if port:
                _ensure_port_free(port)
        try:
            self.start_actions(timeout)
            self._spawn("rasa", self._rasa_command())
            self._wait_until_up(f"{self.url}/", timeout)
            if self.web_port:
                self._spawn("web", self._web_command())
                self._wait_until_up(f"{self.web_url}/widget.js", timeout)
        except BaseException:
            self.stop()
            raise
        return self

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

    def __enter__(self) -> "BotServers":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _actions_command(self) -> List[str]:
        return [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
                "--port", str(self.actions_port)]

    def _web_command(self) -> List[str]:
        return [sys.executable, "-m", "bot.web.server", "--host", self.host,
                "--port", str(self.web_port), "--rasa-port", str(self.rasa_port)]

    def _rasa_command(self) -> List[str]:
        command = [
            str(VENV_BIN / "rasa"), "run", "--enable-api", "--cors", "*",
            "--model", str(self.model), "--port", str(self.rasa_port),
            "--interface", self.host,
            "--endpoints", str(self._endpoints_file()),
            "--credentials", str(ROOT / "credentials.yml"),
        ]
        if self.auth_token:
            command += ["--auth-token", self.auth_token]
        return command

    def _endpoints_file(self) -> Path:
        if self._endpoints and not self._tracker_db:
            return self._endpoints
        endpoints = yaml.safe_load((self._endpoints or ROOT / "endpoints.yml").read_text(encoding="utf-8"))
        endpoints["action_endpoint"] = {"url": f"http://127.0.0.1:{self.actions_port}/webhook"}
        if self._tracker_db:
            endpoints["tracker_store"]["db"] = str(self._tracker_db)
        path = Path(self._workdir.name) / "endpoints.yml"
        path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), encoding="utf-8")
        return path

    def _spawn(self, name: str, command: List[str], env: Optional[Dict[str, str]] = None) -> None:
        if self._log_dir:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            output = (self._log_dir / f"{name}.log").open("ab")
        else:
            output = None  # inherit: the user sees the logs
        self._processes.append(
            subprocess.Popen(command, cwd=ROOT, env={**self._env, **(env or {})}, stdout=output, stderr=subprocess.STDOUT if output else None)
        )

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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the action server and the Rasa server.")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("WEB_PORT", 8080)),
                        help="the page with the chat widget (0: none)")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "triage.tar.gz")
    parser.add_argument("--host", default=os.environ.get("RASA_HOST", "0.0.0.0"))
    args = parser.parse_args(argv)

    (ROOT / ".data").mkdir(exist_ok=True)
    servers = BotServers(
        model=args.model,
        rasa_port=args.port,
        actions_port=args.actions_port,
        endpoints=ROOT / "endpoints.yml",
        auth_token=os.environ.get("RASA_AUTH_TOKEN") or None,
        host=args.host,
        web_port=args.web_port or None,
    )
    # Ctrl-C reaches the children through the process group; wait for them.
    # A plain SIGTERM (a supervisor stopping us) is passed on as Ctrl-C.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: servers.stop())
    servers.start()
    page = f", chat page http://localhost:{servers.web_port}/" if servers.web_port else ""
    print(f"\nBot ready: REST {servers.url}/webhooks/rest/webhook, socket.io {servers.url}/socket.io{page}. Ctrl-C stops.\n", flush=True)
    return servers.wait()


if __name__ == "__main__":
    raise SystemExit(main())
