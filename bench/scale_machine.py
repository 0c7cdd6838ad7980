"""The machine under the scale benchmark: CPU time and resident memory per
process from /proc, the load average, waiting for a quiet machine, and the log.

CpuMeter tells the bot's processes apart (Rasa instances by port, the action
server, PostgreSQL, Redis, RabbitMQ, the load generator: this process and the
Locust it starts) and counts what else ran meanwhile as "other", so a run
disturbed by other work can be measured again (scale.py's undisturbed()).
MemorySampler reads the resident memory of the Rasa instances and the action
server while a run goes on.
"""
from __future__ import annotations

import os
import resource
import sys
import threading
import time
from typing import Any, Dict, Iterable, List, Optional

CORES = os.cpu_count() or 1
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- /proc

def _processes() -> Dict[int, Dict[str, Any]]:
    """Every process: parent, CPU ticks, RSS, name and command line (from /proc)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                raw = stat.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        name, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
        table[int(entry)] = {"ppid": int(rest[1]), "ticks": int(rest[11]) + int(rest[12]),
                             "rss": int(rest[21]) * PAGE, "name": name, "command": command}
    return table


def _descendants(table: Dict[int, Dict[str, Any]], root: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for pid, info in table.items():
        children.setdefault(info["ppid"], []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


# Ports of the Rasa instances after the first -> their role ("rasa, 2nd instance", ...).
_OTHER_INSTANCES: Dict[int, str] = {}
_ORDINALS = {2: "2nd", 3: "3rd"}
RASA_ROLE = "rasa"
ACTIONS_ROLE = "action server"
LOAD_GENERATOR = "load generator"


def name_instances(rasa_ports: Iterable[int]) -> None:
    """The Rasa instances about to run, first one first: CpuMeter calls the first "rasa" and
    the others "rasa, 2nd instance", "rasa, 3rd instance", ... (scale_servers.running() calls this)."""
    _OTHER_INSTANCES.clear()
    for number, port in enumerate(list(rasa_ports)[1:], start=2):
        _OTHER_INSTANCES[port] = f"{RASA_ROLE}, {_ORDINALS.get(number, f'{number}th')} instance"


def is_rasa(role: str) -> bool:
    return role == RASA_ROLE or role.startswith(f"{RASA_ROLE}, ")


def _roles(table: Dict[int, Dict[str, Any]]) -> Dict[int, str]:
    """Which part of the system each process is: ours are told apart by port."""
    ours = set(_descendants(table, os.getpid()))
    roles = {}
    for pid, info in table.items():
        command, name = info["command"], info["name"]
        if pid == os.getpid() or (pid in ours and "locust" in command):
            role = LOAD_GENERATOR
        elif pid in ours and ("run actions" in command or "bot.action_server" in command):
            role = ACTIONS_ROLE
        elif pid in ours and " run " in f" {command} ":
            words = command.split()
            port = int(words[words.index("--port") + 1]) if "--port" in words else 0
            role = _OTHER_INSTANCES.get(port, RASA_ROLE)
        elif name == "postgres":
            role = "postgresql"
        elif name == "redis-server":
            role = "redis"
        elif name in ("beam.smp", "epmd", "erl_child_setup", "inet_gethost") or "rabbit" in command:
            role = "rabbitmq"
        else:
            role = "other"
        roles[pid] = role
    return roles


def _finished_children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _system_ticks() -> Dict[str, int]:
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return {"busy": sum(fields[:8]) - idle, "total": sum(fields[:8])}


class CpuMeter:
    """CPU time per part of the system (rasa instances, action server, stores, load generator)."""

    def __enter__(self) -> "CpuMeter":
        self.before, self.system_before = _processes(), _system_ticks()
        self.children_before = _finished_children_seconds()
        return self

    def __exit__(self, *exc_info) -> None:
        after, system_after = _processes(), _system_ticks()
        roles = _roles(after)
        self.seconds: Dict[str, float] = {}
        for pid, info in after.items():
            before = self.before.get(pid)
            ticks = info["ticks"] - (before["ticks"] if before and before["name"] == info["name"] else 0)
            self.seconds[roles[pid]] = self.seconds.get(roles[pid], 0.0) + ticks / TICK
        # Locust, run to its end meanwhile, is no longer in /proc: its CPU is in this process's
        # finished children (the servers are supervisord's children, which runs on).
        locust = _finished_children_seconds() - self.children_before
        self.seconds[LOAD_GENERATOR] = self.seconds.get(LOAD_GENERATOR, 0.0) + locust
        total = system_after["total"] - self.system_before["total"]
        busy = system_after["busy"] - self.system_before["busy"]
        self.busy_share = busy / total if total else 0.0
        # Other work: everything busy that is not the bot, its stores or the load generator,
        # including processes that started and ended during the run.
        ours = sum(seconds for role, seconds in self.seconds.items() if role != "other")
        self.seconds["other"] = max(0.0, busy / TICK - ours)
        self.other_share = self.seconds["other"] * TICK / total if total else 0.0

    def report(self, messages: int) -> Dict[str, Any]:
        per_message = {role: round(seconds * 1000 / messages, 1)
                       for role, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]) if seconds > 0}
        # "other": processes that are not part of the bot (other work on the machine); the total is
        # the bot's and its stores' (the load generator is not part of it).
        return {"busy_percent": round(100 * self.busy_share, 1), "cpu_ms_per_message": per_message,
                "cpu_ms_per_message_total": round(sum(v for k, v in per_message.items()
                                                      if k not in ("other", LOAD_GENERATOR)), 1),
                "other_cpu_ms_per_message": per_message.get("other", 0.0),
                "other_busy_percent": round(100 * self.other_share, 1)}


def resident_mb() -> Dict[str, float]:
    """Resident memory (MB) of each Rasa instance and of the action server, by role."""
    table = _processes()
    found: Dict[str, float] = {}
    for pid, role in _roles(table).items():
        if is_rasa(role) or role == ACTIONS_ROLE:
            found[role] = found.get(role, 0.0) + table[pid]["rss"] / 2**20
    return {role: round(mb, 1) for role, mb in sorted(found.items())}


class MemorySampler:
    """Resident memory of the Rasa instances and the action server, every ``interval`` s while it runs:
    ``report()`` gives each role's mean and peak (MB)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: List[Dict[str, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.samples.append(resident_mb())
            self._done.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()
        self.samples.append(resident_mb())

    def report(self) -> Dict[str, Dict[str, float]]:
        roles = sorted({role for sample in self.samples for role in sample})
        return {role: {"mean_mb": round(sum(s.get(role, 0.0) for s in self.samples) / len(self.samples), 1),
                       "peak_mb": max(s.get(role, 0.0) for s in self.samples)} for role in roles}


def tree_rss(root: int) -> int:
    try:
        import psutil  # type: ignore
    except ImportError:
        table = _processes()
        return sum(table[pid]["rss"] for pid in _descendants(table, root) if pid in table)
    try:
        process = psutil.Process(root)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
    except psutil.Error:
        return 0


def loadavg() -> List[float]:
    return [round(value, 2) for value in os.getloadavg()]


def foreign_rasa() -> List[str]:
    """`rasa run` processes that are not ours (other bots, tests, benchmarks)."""
    table = _processes()
    ours = set(_descendants(table, os.getpid()))
    return [f"{pid} {info['command'][:100]}" for pid, info in table.items()
            if pid not in ours and " rasa run" in f" {info['command']}".replace("/rasa run", " rasa run")]


# (timeout, max load) from --wait-for-quiet / --max-load; 0: do not wait.
QUIET = {"timeout": 0.0, "max_load": 0.7}


def wait_for_quiet(timeout: float, max_load: Optional[float]) -> Dict[str, Any]:
    """Poll every 30 s until the 1-minute load average is under ``max_load`` (None: any) and no
    other `rasa run` runs."""
    started = time.monotonic()
    while True:
        load_now, others = os.getloadavg()[0], foreign_rasa()
        quiet = (max_load is None or load_now < max_load) and not others
        waited = time.monotonic() - started
        if quiet or waited >= timeout:
            if not quiet:
                log(f"machine still busy after {waited:.0f} s (load {load_now:.2f}, other rasa: {len(others)}); "
                    "measuring anyway")
            return {"quiet": quiet, "waited_seconds": round(waited), "loadavg": loadavg(), "other_rasa": others}
        log(f"waiting for a quiet machine: load {load_now:.2f}, other rasa processes: {len(others)}")
        time.sleep(30)
