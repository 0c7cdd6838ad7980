"""Before and after issue 19's Rasa patches, in one run on one machine: CPU per message, each patch on and off.

Loads the trained model in this process as the server does (Rasa's structlog
set-up at INFO, so debug lines are dropped; every bot.rasa_compat patch
installed by the NLG) with the real action server (started on a private
port), then sends the case-flow mix of bench/mix.py, conversation after
conversation, alternating the variants round by round so that whatever else
the machine does falls on all of them alike:

  all on          every patch, as the bot runs
  all off         issue 19's in-process patches replaced by Rasa's originals
  <patch> off     one of them replaced by Rasa's original, the others on

and reports the process CPU (ms) per message of each variant (median over
the rounds). The event broker is not in this process: its patch is measured
on its own against the local RabbitMQ (a queue and exchange of its own,
deleted afterwards): CPU per published event with Rasa's ``_publish``, with
the patch, and, for scale, on a channel without publisher confirms (which
the bot does not use: a dropped connection would lose events silently).

    .venv/bin/python bench/patch_ab.py                      # 8 rounds of 20 messages per variant
    .venv/bin/python bench/patch_ab.py --rounds 3 --actions-port 6955
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, when run as a script

from bench.mix import MESSAGES, SERVER_ENV  # noqa: E402
from bot.launcher import BotServers  # noqa: E402
from bot.settings import MODEL, ROOT  # noqa: E402

ISSUE_19 = ("pika_publish", "memoization_debug", "prediction_states", "diet_predict", "endpoint_session")
IN_PROCESS = ("memoization_debug", "prediction_states", "diet_predict", "endpoint_session")
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


@contextlib.contextmanager
def rasa_originals(names: List[str]) -> Iterator[None]:
    from bot import rasa_compat

    records = [rasa_compat.patch.INSTALLED[_patch(name).name] for name in names]
    for record in records:
        setattr(record.target, record.attribute, record.original)
    try:
        yield
    finally:
        for record in records:
            setattr(record.target, record.attribute, record.replacement)


def _patch(name: str) -> Any:
    import importlib

    return importlib.import_module(f"bot.rasa_compat.{name}").PATCH


def load_agent(actions_port: int) -> Any:
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)  # as `rasa run` does: debug lines dropped
    return Agent.load(str(MODEL), action_endpoint=EndpointConfig(f"http://127.0.0.1:{actions_port}/webhook"),
                      generator=EndpointConfig(type="bot.nlg.ServiceNaturalLanguageGenerator"))


async def conversation(agent: Any) -> float:
    """CPU seconds of this process for one conversation of the mix."""
    sender = f"ab-{uuid.uuid4().hex[:8]}"
    started = time.process_time()
    for text in MESSAGES:
        await agent.handle_text(text, sender_id=sender)
    return time.process_time() - started


def in_process(agent: Any, rounds: int) -> Dict[str, float]:
    variants: Dict[str, List[str]] = {"all on": [], "all off": list(IN_PROCESS),
                                      **{f"{name} off": [name] for name in IN_PROCESS}}
    seconds: Dict[str, List[float]] = {name: [] for name in variants}
    asyncio.run(conversation(agent))  # warm: traced graph, connections
    for _ in range(rounds):
        for name, off in variants.items():
            with rasa_originals(off):
                seconds[name].append(asyncio.run(conversation(agent)))
    return {name: round(statistics.median(values) * 1000 / len(MESSAGES), 2) for name, values in seconds.items()}


async def broker_per_event(events: int, rounds: int) -> Dict[str, float]:
    import rasa.shared.core.events  # noqa: F401  (Rasa's _publish reaches it through the package)
    from rasa.core.brokers.pika import PikaEventBroker
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)  # as `rasa run` does: debug lines dropped

    from bot.rasa_compat import pika_publish

    tag = uuid.uuid4().hex[:8]
    queue, exchange = f"triage_ab_{tag}", f"triage_ab_exchange_{tag}"
    event = {"event": "user", "text": "我要退款", "metadata": {"model_id": "x"},
             "parse_data": {"intent": {"name": "refund", "confidence": 0.99}, "entities": [], "text": "我要退款",
                            "intent_ranking": [{"name": f"intent_{i}", "confidence": 0.01} for i in range(20)]}}
    broker = PikaEventBroker("127.0.0.1", "guest", "guest", queues=[queue], exchange_name=exchange)
    await broker.connect()
    results: Dict[str, List[float]] = {"Rasa's _publish": [], "patched": [], "no publisher confirms": [],
                                       "the debug copy alone": []}
    original = PikaEventBroker._publish
    unconfirmed = await (await broker._connection.channel(publisher_confirms=False)).get_exchange(exchange)

    async def published(label: str, publish: Any) -> None:
        PikaEventBroker._publish = publish
        started = time.process_time()
        for _ in range(events):
            broker.publish(event)
        while broker._background_tasks:
            await asyncio.sleep(0.005)
        results[label].append(time.process_time() - started)

    try:
        for round_ in range(rounds):
            # ABBA: neither variant always goes first (RabbitMQ and the machine warm up and cool down).
            variants = [("Rasa's _publish", original), ("patched", pika_publish.publish_without_debug_copy)]
            for label, publish in variants if round_ % 2 == 0 else reversed(variants):
                await published(label, publish)
            started = time.process_time()
            for _ in range(events):
                await unconfirmed.publish(broker._message(event, None), "")
            results["no publisher confirms"].append(time.process_time() - started)
        # What the patch leaves out, alone and free of I/O: the reduced copy for the debug line.
        from rasa.shared.core.events import remove_parse_data

        started = time.process_time()
        for _ in range(events):
            remove_parse_data(event)
        results["the debug copy alone"] = [time.process_time() - started]
    finally:
        PikaEventBroker._publish = original
        channel = await broker._connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)
        await broker.close()
    return {label: round(statistics.median(values) * 1000 / events, 3) for label, values in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--events", type=int, default=2000, help="events per broker round")
    parser.add_argument("--actions-port", type=int, default=5855)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "patch_ab.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="patch-ab-") as scratch:
        servers = BotServers(actions_port=args.actions_port, rasa_port=args.actions_port + 1,
                             log_dir=Path(scratch) / "logs",
                             extra_env={**SERVER_ENV, "DATABASE_URL": f"sqlite:///{scratch}/service.db"})
        try:
            servers.start_actions()
            agent = load_agent(args.actions_port)
            figures = {"cpu_ms_per_message": in_process(agent, args.rounds)}
        finally:
            servers.stop()
    figures["broker_cpu_ms_per_event"] = asyncio.run(broker_per_event(args.events, max(3, args.rounds // 2)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    base = figures["cpu_ms_per_message"]["all on"]
    print("| variant (in process, action server in the loop) | CPU ms per message | against all on |")
    print("|---|---|---|")
    for name, value in figures["cpu_ms_per_message"].items():
        print(f"| {name} | {value} | {value / base:.2f}x |")
    print("\n| RabbitMQ publishing | CPU ms per event |")
    print("|---|---|")
    for name, value in figures["broker_cpu_ms_per_event"].items():
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
