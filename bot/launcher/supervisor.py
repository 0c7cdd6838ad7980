"""The bot's programs under supervisord (Supervisor, from PyPI).

supervisord restarts a program that dies while the others keep serving: at
once when it had been running, with a growing pause (1 s, 2 s, 3 s ...) when
it keeps dying during start-up. Every program sits in its own process group,
so Ctrl-C in a terminal reaches supervisord alone, which then stops all of
them at once: SIGINT, then SIGKILL after the program's ``stop_wait``.
SIGTERM does the same, and supervisord then exits 0.
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Optional

from bot.launcher.programs import VENV_BIN, Program
from bot.settings import ROOT

GROUP = "bot"
# A program that dies within this many seconds of its start did not start:
# supervisord waits a little longer before each further try, and gives up
# (state FATAL, in the log) after START_RETRIES of them.
START_SECONDS = 3
START_RETRIES = 20
RPC_INTERFACE = "supervisor.rpcinterface:make_main_rpcinterface"  # what supervisorctl talks to


def write_config(programs: list[Program], run_dir: Path, log_dir: Optional[Path], autostart: bool = True) -> Path:
    """supervisord.conf in ``run_dir``, readable by this user only (it holds the control password)."""
    path = run_dir / "supervisord.conf"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(render_config(programs, run_dir, log_dir, autostart), encoding="utf-8")
    return path


def render_config(programs: list[Program], run_dir: Path, log_dir: Optional[Path], autostart: bool = True) -> str:
    """supervisord.conf: logs to the terminal (``log_dir`` None) or one file per program."""
    # The control socket is this user's alone (0700) and needs a password too,
    # which keeps supervisord from warning about it at every start.
    password = secrets.token_hex(16)
    sections = [
        _section(
            "supervisord",
            logfile=_log_path(log_dir, "supervisord"),
            logfile_maxbytes=0,
            loglevel="info",
            pidfile=run_dir / "supervisord.pid",
            nodaemon="true",
            # Its lines go to its log file only; in the foreground that file is
            # the terminal, where they would otherwise stand twice.
            silent="true",
            directory=ROOT,
            **_same_user(),
        ),
        _section("unix_http_server", file=run_dir / "supervisor.sock", chmod="0700", username="bot", password=password),
        _section("supervisorctl", serverurl=f"unix://{run_dir / 'supervisor.sock'}", username="bot", password=password),
        _section("rpcinterface:supervisor", **{"supervisor.rpcinterface_factory": RPC_INTERFACE}),
        _section(f"group:{GROUP}", programs=",".join(program.name for program in programs)),
    ]
    sections += [_program_section(program, log_dir, autostart) for program in programs]
    return "\n".join(sections)


def _program_section(program: Program, log_dir: Optional[Path], autostart: bool) -> str:
    settings: dict[str, object] = {
        "command": " ".join(shlex.quote(part) for part in program.command),
        "directory": ROOT,
        "autostart": str(autostart).lower(),
        "autorestart": "true",
        "startsecs": START_SECONDS,
        "startretries": START_RETRIES,
        "stopsignal": "INT",
        "stopwaitsecs": program.stop_wait,
        "stopasgroup": "true",
        "killasgroup": "true",
        "redirect_stderr": "true",
        "stdout_logfile": _log_path(log_dir, program.name),
        "stdout_logfile_maxbytes": 0,
    }
    if program.env:
        settings["environment"] = ",".join(f'{name}="{value}"' for name, value in program.env.items())
    return _section(f"program:{program.name}", **settings)


def _same_user() -> dict[str, str]:
    """Run as root only when started as root, and say so (supervisord warns otherwise)."""
    return {"user": "root"} if os.geteuid() == 0 else {}


def _log_path(log_dir: Optional[Path], name: str) -> str:
    return str(log_dir / f"{name}.log") if log_dir else "/dev/stdout"


def _section(name: str, **settings: object) -> str:
    # supervisord reads its file with %-interpolation: a literal % is %%.
    lines = [f"[{name}]"] + [f"{key}={str(value).replace('%', '%%')}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


class Supervisor:
    """A running supervisord and its control socket."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.config = config
        self._env = env
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> Supervisor:
        self.process = subprocess.Popen(
            [str(VENV_BIN / "supervisord"), "-c", str(self.config)],
            cwd=ROOT,
            env=self._env,
            preexec_fn=_die_with_parent,
        )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def control(self, *args: str, timeout: float = 120) -> str:
        """Run ``supervisorctl ARGS`` against this supervisord; its output."""
        result = subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self._env,
        )
        return result.stdout.strip()

    def pid(self, name: str) -> int:
        """The pid of program ``name`` (0 while it is not running)."""
        output = self.control("pid", f"{GROUP}:{name}")
        return int(output) if output.isdigit() else 0

    def state(self, name: str) -> str:
        """RUNNING, STARTING, BACKOFF, STOPPED, FATAL, ... (supervisorctl's status word)."""
        words = self.control("status", f"{GROUP}:{name}").split()
        return words[1] if len(words) > 1 else "UNKNOWN"

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM supervisord (it stops every program) and wait; its exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def _die_with_parent() -> None:
    """supervisord gets SIGTERM when the process that started it dies (Linux' PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass  # not Linux: a test or benchmark killed outright may leave servers behind
    os.setpgrp()  # our Ctrl-C is not supervisord's: the launcher passes it on
