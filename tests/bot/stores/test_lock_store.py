"""AtomicRedisLockStore: tickets stay unique when several instances take messages at once (real Redis)."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.stores.lock_store import AtomicRedisLockStore


@pytest.fixture
def stores():
    import redis

    prefix = "test" + uuid.uuid4().hex[:8]
    try:
        redis.StrictRedis(host="127.0.0.1", port=6379, db=1).ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return [AtomicRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix) for _ in range(4)]


def test_tickets_issued_at_once_by_several_instances_are_all_different(stores):
    conversation = uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=8) as pool:
        tickets = list(pool.map(lambda n: stores[n % 4].issue_ticket(conversation), range(200)))
    assert sorted(tickets) == list(range(200))
    assert len(stores[0].get_lock(conversation).tickets) == 200


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
