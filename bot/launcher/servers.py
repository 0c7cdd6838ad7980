"""The bot's servers under supervision, as the tests and benchmarks drive them.

:class:`BotServers` runs the same supervisord set-up as ``make run`` and
``make cluster`` on ports and files of its own, and lets a test crash, stop or
start one program (``kill_instance``, ``stop_actions``, ...) as an operator
or the OOM killer would.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from bot.launcher.programs import ACTIONS, GATEWAY, Layout, Program, plan, rasa_program_name
from bot.launcher.supervisor import Supervisor, write_config
from bot.settings import CREDENTIALS, MODEL


class BotServers:
    """An action server, one or more Rasa servers and optionally the widget page and the gateway.

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
        gateway_port: Optional[int] = None,
        autostart: bool = False,
        credentials: Path = CREDENTIALS,
    ) -> None:
        self.layout = Layout(
            profile=profile,
            rasa_ports=list(rasa_ports or [rasa_port]),
            actions_port=actions_port,
            web_port=web_port,
            gateway_port=gateway_port,
            host=host,
            model=model,
            endpoints=endpoints,
            tracker_db=tracker_db,
            auth_token=auth_token,
            extra_env=dict(extra_env or {}),
            credentials=credentials,
        )
        self._log_dir = log_dir
        self._autostart = autostart
        self._workdir = tempfile.TemporaryDirectory(prefix="triage-bot-")
        self.run_dir = Path(self._workdir.name)
        self._env = self.layout.environment()
        self.programs: dict[str, Program] = {}
        self.supervisor: Optional[Supervisor] = None

    # -- where things are
    @property
    def profile(self) -> str:
        return self.layout.profile

    @property
    def rasa_ports(self) -> list[int]:
        return self.layout.rasa_ports

    @property
    def rasa_port(self) -> int:
        return self.layout.rasa_ports[0]

    @property
    def actions_port(self) -> int:
        return self.layout.actions_port

    @property
    def web_port(self) -> Optional[int]:
        return self.layout.web_port

    @property
    def gateway_port(self) -> Optional[int]:
        return self.layout.gateway_port

    @property
    def tracker_db(self) -> Optional[Path]:
        return self.layout.tracker_db

    @property
    def log_dir(self) -> Optional[Path]:
        return self._log_dir

    @property
    def auth_token(self) -> Optional[str]:
        return self.layout.auth_token

    @property
    def url(self) -> str:
        """The first instance (or the gateway, when there is one)."""
        return f"http://127.0.0.1:{self.layout.public_port}"

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.rasa_ports]

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    # -- the whole bot
    def start(self, timeout: float = 180.0) -> BotServers:
        for port in self.layout.ports():
            ensure_port_free(port)
        try:
            self._start_supervisor()
            if not self._autostart:
                self._control("start", "bot:*")
            for program in self.programs.values():
                self._wait_until_up(program.ready_url, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> int:
        """Stop every program and supervisord; supervisord's exit status."""
        status = self.supervisor.stop() if self.supervisor else 0
        self.supervisor = None
        self._workdir.cleanup()
        return status

    def __enter__(self) -> BotServers:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- one program
    def start_actions(self, timeout: float = 180.0) -> None:
        self._start_program(ACTIONS, timeout)

    def stop_actions(self) -> None:
        """Stop only the action server (the Rasa server keeps answering); it stays down until ``start_actions``."""
        self._control("stop", f"bot:{ACTIONS}")

    def start_instance(self, port: int, timeout: float = 180.0) -> None:
        """Start the Rasa instance on ``port`` (or wait until supervisord has restarted it)."""
        self._start_program(rasa_program_name(port), timeout)

    def start_gateway(self, timeout: float = 30.0) -> None:
        """Start the gateway (nginx) in front of the instances; only with ``gateway_port``."""
        self._start_program(GATEWAY, timeout)

    def kill_instance(self, port: int) -> int:
        """SIGKILL the Rasa instance on ``port``, a crash with nothing flushed; supervisord restarts it."""
        return self.kill(rasa_program_name(port))

    def kill(self, name: str) -> int:
        """SIGKILL program ``name`` (its pid, as an operator would find it); the pid killed."""
        assert self.supervisor
        pid = self.supervisor.pid(name)
        if pid:
            os.kill(pid, signal.SIGKILL)
        return pid

    def wait_until_serving(self, name: str, timeout: float = 180.0) -> None:
        self._wait_until_up(self.programs[name].ready_url, timeout)

    # -- inside
    def _start_supervisor(self) -> None:
        if self.supervisor and self.supervisor.running:
            return
        programs = plan(self.layout, self.run_dir)
        self.programs = {program.name: program for program in programs}
        config = write_config(programs, self.run_dir, self._log_dir, self._autostart)
        if self._log_dir:
            self._log_dir.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(config, self._env).start()
        self._wait_for_control_socket()

    def _start_program(self, name: str, timeout: float) -> None:
        self._start_supervisor()
        self._control("start", f"bot:{name}")
        self._wait_until_up(self.programs[name].ready_url, timeout)

    def _control(self, *args: str) -> str:
        assert self.supervisor
        return self.supervisor.control(*args)

    def _wait_for_control_socket(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not (self.run_dir / "supervisor.sock").exists():
            if time.monotonic() > deadline or not (self.supervisor and self.supervisor.running):
                raise RuntimeError(f"supervisord did not start; see {self._log_dir or 'the output above'}")
            time.sleep(0.1)

    def _wait_until_up(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not (self.supervisor and self.supervisor.running):
                raise RuntimeError(f"supervisord exited while {url} was starting; see its log")
            if answers(url):
                return
            time.sleep(0.3)
        raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError as error:
        return error.code < 500  # it serves, even if it does not like this request
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"Port {port} is already in use: stop what runs there first.")
