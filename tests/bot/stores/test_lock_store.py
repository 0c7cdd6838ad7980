"""AtomicRedisLockStore: tickets stay unique when several instances take messages at once (real Redis)."""
from __future__ import annotations

import json
import math
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import pytest
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import RedisLockStore

from bot.stores.lock_store import AtomicRedisLockStore


@pytest.fixture
def stores():
    import redis

    prefix = "test" + uuid.uuid4().hex[:8]
    red = redis.StrictRedis(host="127.0.0.1", port=6379, db=1)
    try:
        red.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    yield [AtomicRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix) for _ in range(4)]
    for key in red.scan_iter(match=prefix + ":*"):
        red.delete(key)


def test_tickets_issued_at_once_by_several_instances_are_all_different(stores):
    conversation = uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=8) as pool:
        tickets = list(pool.map(lambda n: stores[n % 4].issue_ticket(conversation), range(200)))
    assert sorted(tickets) == list(range(200))
    assert len(stores[0].get_lock(conversation).tickets) == 200


def test_two_instances_issuing_and_returning_at_once_lose_no_held_ticket(stores):
    conversation = uuid.uuid4().hex

    def message(n: int) -> int:
        ticket = stores[n % 2].issue_ticket(conversation)
        if n % 2:  # every other message is done at once and returns its ticket
            stores[(n + 1) % 2].cleanup(conversation, ticket)
        return ticket

    with ThreadPoolExecutor(max_workers=8) as pool:
        tickets = list(pool.map(message, range(200)))
    held = tickets[0::2]
    assert len(set(held)) == 100
    assert sorted(t.number for t in stores[0].get_lock(conversation).tickets) == sorted(held)


def test_returning_every_ticket_deletes_the_lock_and_a_waiting_one_keeps_it(stores):
    conversation = uuid.uuid4().hex
    first, second = stores[0].issue_ticket(conversation), stores[1].issue_ticket(conversation)
    stores[2].cleanup(conversation, first)
    assert stores[3].get_lock(conversation).now_serving == second
    stores[0].cleanup(conversation, second)
    assert stores[1].get_lock(conversation) is None


@pytest.mark.asyncio
async def test_the_lock_serves_tickets_in_order(stores):
    conversation = uuid.uuid4().hex
    async with stores[0].lock(conversation) as lock:
        assert not lock.is_locked(0)
        waiting = stores[1].issue_ticket(conversation)
        assert stores[1].get_lock(conversation).is_locked(waiting)
    assert not stores[2].get_lock(conversation).is_locked(waiting)
    stores[2].cleanup(conversation, waiting)


class Clock:
    """time.time for the stores and Rasa's TicketLock, which both judge expiry by it, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    return clock


def test_a_ticket_left_by_a_stuck_instance_expires_and_frees_the_lock(stores, clock):
    conversation = uuid.uuid4().hex
    stuck = stores[0].issue_ticket(conversation, lock_lifetime=10)
    waiting = stores[1].issue_ticket(conversation, lock_lifetime=60)
    assert stores[1].get_lock(conversation).is_locked(waiting)
    clock.now += 11
    stores[1].update_lock(conversation)  # what Rasa's _acquire_lock does between attempts
    assert [t.number for t in stores[2].get_lock(conversation).tickets] == [waiting]
    assert not stores[2].get_lock(conversation).is_locked(waiting)
    stores[1].cleanup(conversation, waiting)

    stores[0].issue_ticket(conversation, lock_lifetime=10)
    clock.now += 11
    assert stores[3].issue_ticket(conversation) == stuck  # no live ticket: numbers start again


def test_cleanup_deletes_the_lock_only_when_no_unexpired_ticket_remains(stores, clock):
    conversation = uuid.uuid4().hex
    key = stores[0].key_prefix + conversation
    mine = stores[0].issue_ticket(conversation, lock_lifetime=60)
    stores[1].issue_ticket(conversation, lock_lifetime=10)
    waiting = stores[2].issue_ticket(conversation, lock_lifetime=30)
    clock.now += 11
    stores[0].cleanup(conversation, mine)
    assert [t.number for t in stores[3].get_lock(conversation).tickets] == [waiting]
    clock.now += 20
    stores[2].finish_serving(conversation, waiting)  # like Rasa's finish_serving: the empty lock stays
    assert stores[0].red.exists(key) == 1

    mine = stores[0].issue_ticket(conversation, lock_lifetime=60)
    stores[1].issue_ticket(conversation, lock_lifetime=10)
    clock.now += 11
    stores[0].cleanup(conversation, mine)  # only an expired ticket is left: no one waits
    assert stores[0].red.exists(key) == 0


def test_expiry_is_judged_to_the_last_bit_like_rasas_ticket_lock(stores, clock):
    conversation = uuid.uuid4().hex
    expires = 1_700_000_000.123456789  # 17 significant digits: cjson's default 14 would round it
    stores[0].save_lock(TicketLock(conversation, deque([Ticket(7, expires)])))
    lifetime = 1e-6
    clock.now = expires

    assert stores[0].issue_ticket(conversation, lifetime) == 8  # ticket 7 expires after, not at, `expires`
    tickets = stores[1].get_lock(conversation).tickets
    assert [(t.number, t.expires) for t in tickets] == [(7, expires), (8, expires + lifetime)]

    clock.now = math.nextafter(expires, math.inf)
    stores[0].update_lock(conversation)
    assert [t.number for t in stores[1].get_lock(conversation).tickets] == [8]
    clock.now = expires + lifetime
    stores[0].update_lock(conversation)
    assert [t.number for t in stores[1].get_lock(conversation).tickets] == [8]
    clock.now = math.nextafter(expires + lifetime, math.inf)
    stores[0].update_lock(conversation)
    assert len(stores[1].get_lock(conversation).tickets) == 0


def test_a_lock_written_by_plain_rasa_is_taken_over_and_stays_readable_by_rasa(stores):
    conversation = uuid.uuid4().hex
    rasa = RedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=stores[0].key_prefix.split(":")[0])
    rasa.issue_ticket(conversation)
    rasa.issue_ticket(conversation)

    assert stores[0].issue_ticket(conversation) == 2
    stores[1].cleanup(conversation, 0)
    assert [t.number for t in rasa.get_lock(conversation).tickets] == [1, 2]
    raw = stores[0].red.get(stores[0].key_prefix + conversation)
    assert raw.decode() == TicketLock.from_dict(json.loads(raw)).dumps()  # byte for byte Rasa's format
    rasa.cleanup(conversation, 1)
    assert stores[2].issue_ticket(conversation) == 3


def test_the_script_is_loaded_again_after_script_flush(stores):
    conversation = uuid.uuid4().hex
    assert stores[0].issue_ticket(conversation) == 0
    stores[0].red.script_flush()
    assert stores[0].issue_ticket(conversation) == 1
    stores[1].cleanup(conversation, 0)
    stores[1].cleanup(conversation, 1)
    assert stores[0].get_lock(conversation) is None


def test_each_change_is_one_round_trip(stores, monkeypatch):
    import redis

    conversation = uuid.uuid4().hex
    store = stores[0]
    store.cleanup(conversation, store.issue_ticket(conversation))  # connection open, script loaded
    sent = []
    send = redis.connection.Connection.send_packed_command

    def record(connection, command, *args, **kwargs):
        data = command if isinstance(command, bytes) else b"".join(command)
        sent.append(data.split(b"\r\n")[2].decode())  # name of the (first) command in this write
        return send(connection, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", record)
    for change in (
        lambda: store.issue_ticket(conversation),
        lambda: store.issue_ticket(conversation),
        lambda: store.update_lock(conversation),
        lambda: store.finish_serving(conversation, 0),
        lambda: store.cleanup(conversation, 1),
    ):
        sent.clear()
        change()
        assert sent == ["EVALSHA"]
    assert store.get_lock(conversation) is None


def test_a_redis_not_there_yet_at_start_is_waited_for_and_the_wait_logged(stores, caplog):
    import logging
    import threading

    from tests.support.tcp_proxy import TcpProxy

    proxy = TcpProxy(target_port=6379, listen_port=6523)  # not started: Redis unreachable
    threading.Timer(1.5, proxy.restore).start()  # tries at 0 and 1 s fail, the one at 3 s gets through
    try:
        with caplog.at_level(logging.INFO, logger="bot.stores.waiting"):
            store = AtomicRedisLockStore(host="127.0.0.1", port=6523, db=1,
                                         key_prefix="test" + uuid.uuid4().hex[:8])
        conversation = uuid.uuid4().hex
        assert store.issue_ticket(conversation) == 0
        store.cleanup(conversation, 0)
    finally:
        time.sleep(1.6)  # the restore has run: stop() closes what it opened
        proxy.stop()
    waits = [record.getMessage() for record in caplog.records if record.name == "bot.stores.waiting"
             and record.levelno == logging.WARNING]
    assert len(waits) == 2 and all("lock store redis 127.0.0.1:6523/1" in line for line in waits)


@pytest.mark.asyncio
async def test_a_message_whose_ticket_expires_while_it_waits_for_a_dead_instance_gets_the_lock(stores):
    """The dead instance's ticket and the waiting one expire within the same second (a retry through the gateway)."""
    dead, alive = stores[0], stores[1]
    conversation = uuid.uuid4().hex
    dead.issue_ticket(conversation, 1)  # never returned: that instance was killed
    started = time.monotonic()
    async with alive.lock(conversation, lock_lifetime=1, wait_time_in_seconds=0.4):
        waited = time.monotonic() - started
    assert waited < 3
    assert alive.get_lock(conversation) is None  # its ticket was returned: nobody else waits
