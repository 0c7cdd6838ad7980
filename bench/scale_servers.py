"""The bot under test in the scale benchmark: our configuration on private ports,
on the production profile (a PostgreSQL database, Redis key prefix and RabbitMQ
queue of the run's own, removed afterwards) or the embedded one (SQLite files of
the run's own), each Rasa instance timed from its process start to its first
REST answer; with ``gateway_port``, the cluster's nginx in front of the
instances (bot/launcher/gateway.py), as users reach it.

    with production(2, log_dir) as (servers, startup):   # servers.urls: one per instance
        ...
    with production(3, log_dir, gateway_port=5800) as (servers, startup):   # servers.url: the gateway
        ...
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from bench.mix import SERVER_ENV, webhook
from bench.scale_machine import QUIET, log, name_instances, wait_for_quiet
from bot.launcher import BotServers

RASA_PORTS = [5805, 5806, 5807]  # the first instance's, the second's, the third's
ACTIONS_PORT = 5855
GATEWAY_PORT = 5800  # the cluster's single entry point (nginx), for the cluster part
POSTGRES = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
REDIS = dict(host="127.0.0.1", port=6379, db=1)
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"Port {port} is already in use: stop what runs there first.")


def post(url: str, text: str, sender: str, timeout: float = 120) -> List[Dict[str, Any]]:
    request = urllib.request.Request(webhook(url),
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def start_timed(servers: BotServers, port: int, timeout: float = 300) -> float:
    """Start the Rasa instance on ``port``: seconds from its process start to its first REST answer."""
    url, answered = f"http://127.0.0.1:{port}", {}
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            try:
                if post(url, "你好", f"startup-probe-{uuid.uuid4().hex[:8]}", timeout=timeout):
                    answered["at"] = time.perf_counter()
                    return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=probe, daemon=True)
    started = time.perf_counter()
    thread.start()
    try:
        servers.start_instance(port, timeout)
        thread.join(timeout)
    finally:
        done.set()
    if "at" not in answered:
        raise TimeoutError(f"{url} gave no answer within {timeout:.0f}s")
    return round(answered["at"] - started, 1)


@contextlib.contextmanager
def running(servers: BotServers, label: str) -> Iterator[Dict[str, float]]:
    """Action server, then each Rasa instance (timed to its first answer); stopped afterwards."""
    for port in servers.layout.ports():
        port_free(port)
    name_instances(servers.rasa_ports)
    if QUIET["timeout"]:  # between our own runs the load average is ours: wait only for other bots
        wait_for_quiet(QUIET["timeout"], None)
    startup: Dict[str, float] = {}
    try:
        log(f"{label}: starting the action server and {len(servers.rasa_ports)} Rasa instance(s) ...")
        servers.start_actions()
        for port in servers.rasa_ports:
            startup[str(port)] = start_timed(servers, port)
        if servers.gateway_port:
            servers.start_gateway()
        log(f"{label}: up; first answers after {startup} s")
        yield startup
    finally:
        servers.stop()


@contextlib.contextmanager
def production(instances: int, log_dir: Path, rasa_ports: Sequence[int] = RASA_PORTS,
               actions_port: int = ACTIONS_PORT, gateway_port: Optional[int] = None,
               extra_env: Optional[Dict[str, str]] = None) -> Iterator[Any]:
    """Our configuration on the production profile, on stores of the run's own (behind the gateway
    with ``gateway_port``; ``extra_env`` for the servers, e.g. RASA_COMPAT_SKIP)."""
    names = production_store_names()
    servers = BotServers(profile="production", rasa_ports=list(rasa_ports[:instances]), actions_port=actions_port,
                         gateway_port=gateway_port, log_dir=log_dir,
                         extra_env={**SERVER_ENV, **names, **(extra_env or {})})
    try:
        with running(servers, f"production, {instances} instance(s)") as startup:
            yield servers, startup
    finally:
        remove_production_stores(names)


@contextlib.contextmanager
def embedded(instances: int, log_dir: Path, rasa_ports: Sequence[int] = RASA_PORTS,
             actions_port: int = ACTIONS_PORT) -> Iterator[Any]:
    """Our configuration on the embedded profile, on SQLite files of the run's own."""
    with tempfile.TemporaryDirectory(prefix="scale-embedded-") as scratch:
        servers = BotServers(rasa_ports=list(rasa_ports[:instances]), actions_port=actions_port, log_dir=log_dir,
                             tracker_db=Path(scratch) / "tracker.db",
                             extra_env={**SERVER_ENV, "DATABASE_URL": f"sqlite:///{scratch}/service.db"})
        with running(servers, "ours, embedded profile") as startup:
            yield servers, startup


def production_store_names() -> Dict[str, str]:
    """A database, Redis key prefix and queue of the run's own."""
    tag = uuid.uuid4().hex[:10]
    return {"POSTGRES_DB": f"triage_bench_{tag}", "REDIS_KEY_PREFIX": f"bench{tag}",
            "RABBITMQ_QUEUE": f"triage_bench_events_{tag}"}


def remove_production_stores(names: Dict[str, str]) -> None:
    """Drop the run's database, delete its queue and Redis keys."""
    import aio_pika
    import psycopg2
    import redis

    try:
        connection = psycopg2.connect(**POSTGRES)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                           (names["POSTGRES_DB"],))
            cursor.execute(f'DROP DATABASE IF EXISTS "{names["POSTGRES_DB"]}"')
        connection.close()
    except Exception as error:  # noqa: BLE001  (cleanup goes on; say what is left)
        log(f"could not drop database {names['POSTGRES_DB']}: {error}")

    async def delete_queue() -> None:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(names["RABBITMQ_QUEUE"])

    try:
        asyncio.run(delete_queue())
    except Exception as error:  # noqa: BLE001
        log(f"could not delete queue {names['RABBITMQ_QUEUE']}: {error}")
    try:
        client = redis.Redis(**REDIS)
        keys = list(client.scan_iter(f"{names['REDIS_KEY_PREFIX']}:*"))
        if keys:
            client.delete(*keys)
    except Exception as error:  # noqa: BLE001
        log(f"could not delete Redis keys {names['REDIS_KEY_PREFIX']}:*: {error}")
