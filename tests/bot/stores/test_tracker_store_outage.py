"""The caching tracker store when PostgreSQL goes away: it waits at start, raises while gone, keeps nothing only in memory.

PostgreSQL is reached through a TCP proxy the test cuts and restores
(tests/support/tcp_proxy.py); the machine's server is never touched.
"""
from __future__ import annotations

import logging
import threading
from typing import Iterator

import pytest
import sqlalchemy
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.events import UserUttered
from sqlalchemy.engine import make_url

from bot import rasa_compat
from bot.stores.tracker_store import CachingSQLTrackerStore
from tests.bot.stores.conftest import _temporary_postgres_database
from tests.bot.stores.test_caching_tracker_store import DOMAIN, RecordingBroker, new_conversation, user_turn
from tests.support.tcp_proxy import TcpProxy

PROXY_PORT = 6522
PASSWORD = "never-in-the-log"  # the local PostgreSQL trusts its users: any password connects


@pytest.fixture
def database() -> Iterator[str]:
    yield from _temporary_postgres_database()


@pytest.fixture
def proxy(database) -> Iterator[TcpProxy]:
    with TcpProxy(target_port=make_url(database).port or 5432, listen_port=PROXY_PORT) as running:
        yield running


def store_behind(proxy: TcpProxy, database: str, broker=None) -> CachingSQLTrackerStore:
    url = make_url(database)
    return CachingSQLTrackerStore(domain=DOMAIN, dialect="postgresql", host="127.0.0.1", port=proxy.port,
                                  db=url.database, username=url.username, password=PASSWORD,
                                  login_db="postgres", event_broker=broker)


def user_texts(tracker) -> list:
    return [event.text for event in tracker.events if isinstance(event, UserUttered)]


def test_the_store_waits_for_a_database_that_is_not_there_yet_then_uses_it(proxy, database, caplog):
    proxy.cut()
    threading.Timer(2.5, proxy.restore).start()  # tries at 0, 1 and 3 s: the third gets through
    with caplog.at_level(logging.INFO, logger="bot.stores.waiting"):
        tracker_store = store_behind(proxy, database)
    waits = [record.getMessage() for record in caplog.records if record.name == "bot.stores.waiting"
             and record.levelno == logging.WARNING]
    assert len(waits) == 2
    name = make_url(database).database
    assert all(f"postgresql 127.0.0.1:{PROXY_PORT}/{name}" in line and "Connection refused" in line for line in waits)
    assert PASSWORD not in caplog.text
    assert tracker_store.engine.pool._pre_ping


@pytest.mark.asyncio
async def test_while_the_database_is_gone_retrieve_raises_instead_of_answering_from_the_cache(proxy, database):
    tracker_store = store_behind(proxy, database)
    await new_conversation(tracker_store, "shopper")
    assert await tracker_store.retrieve("shopper") is not None  # kept in the cache now
    proxy.cut()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await tracker_store.retrieve("shopper")


@pytest.mark.asyncio
async def test_a_failed_save_leaves_the_cache_and_the_broker_no_further_than_the_database(proxy, database):
    broker = RecordingBroker()
    tracker_store = store_behind(proxy, database, broker)
    await new_conversation(tracker_store, "shopper")
    tracker = await tracker_store.retrieve("shopper")
    for event in user_turn("到哪了"):
        tracker.update(event)
    published = len(broker.published)

    proxy.cut()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await tracker_store.save(tracker)
    assert len(broker.published) == published  # nothing announced that was not stored
    proxy.restore()

    # Back by itself (no restart): the conversation is what the database holds.
    again = await tracker_store.retrieve("shopper")
    from_database = await CachingSQLTrackerStore(domain=DOMAIN, dialect="postgresql", host="127.0.0.1",
                                                 port=make_url(database).port, db=make_url(database).database,
                                                 username="postgres").retrieve("shopper")
    assert user_texts(again) == user_texts(from_database) == ["我要退款"]


@pytest.mark.asyncio
async def test_rasa_no_longer_carries_on_in_memory_when_the_store_fails(proxy, database):
    rasa_compat.install()
    failsafe = FailSafeTrackerStore(store_behind(proxy, database))
    await new_conversation(failsafe, "shopper")
    tracker = await failsafe.retrieve("shopper")
    for event in user_turn("到哪了"):
        tracker.update(event)
    proxy.cut()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await failsafe.retrieve("shopper")
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await failsafe.save(tracker)
    assert failsafe._fallback_tracker_store is None  # no conversation went to memory


@pytest.mark.asyncio
async def test_a_table_rasa_could_not_create_at_start_is_created_before_the_store_is_used(proxy, database,
                                                                                           monkeypatch):
    # The database went away between Rasa's connection and its CREATE TABLE: Rasa only logs that.
    metadata = CachingSQLTrackerStore.Base.metadata
    create_all, calls = metadata.create_all, []

    def lost_the_first_time(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise sqlalchemy.exc.OperationalError("CREATE TABLE events", {}, Exception("server closed the connection"))
        return create_all(*args, **kwargs)

    monkeypatch.setattr(metadata, "create_all", lost_the_first_time)
    tracker_store = store_behind(proxy, database)
    await new_conversation(tracker_store, "shopper")
    assert len(calls) == 2 and user_texts(await tracker_store.retrieve("shopper")) == ["我要退款"]
