"""The caching SQL tracker store returns what the database holds, faster."""
from __future__ import annotations

import pytest
import sqlalchemy
from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import make_url

from bot.stores.tracker_store import CachingSQLTrackerStore

DOMAIN = Domain.from_dict({
    "intents": ["refund"],
    "slots": {"order_id": {"type": "text", "mappings": [{"type": "custom"}]}},
})


def store(path) -> CachingSQLTrackerStore:
    return CachingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))


def user_turn(text: str):
    return [ActionExecuted("action_listen"), UserUttered(text, {"name": "refund", "confidence": 1.0}),
            ActionExecuted("utter_refund")]


async def new_conversation(tracker_store, sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in [ActionExecuted("action_session_start"), SessionStarted(), *user_turn("我要退款")]:
        tracker.update(event)
    await tracker_store.save(tracker)
    return tracker


@pytest.mark.asyncio
async def test_conversation_survives_a_restart(tmp_path):
    await new_conversation(store(tmp_path / "t.db"), "shopper")
    reopened = await store(tmp_path / "t.db").retrieve("shopper")
    assert [e.text for e in reopened.events if isinstance(e, UserUttered)] == ["我要退款"]


@pytest.mark.asyncio
async def test_the_sqlite_files_folder_is_made_when_missing(tmp_path):
    # endpoints.yml says .data/tracker.db; plain `rasa run` in a fresh checkout has no .data/.
    path = tmp_path / "fresh-checkout" / ".data" / "tracker.db"
    await new_conversation(store(path), "shopper")
    assert path.is_file()
    assert (await store(path).retrieve("shopper")) is not None


@pytest.mark.asyncio
async def test_messages_written_by_another_instance_are_seen(tmp_path):
    first, second = store(tmp_path / "t.db"), store(tmp_path / "t.db")
    await new_conversation(first, "shopper")
    await first.retrieve("shopper")  # now cached in the first instance

    on_second = await second.retrieve("shopper")
    for event in [*user_turn("到哪了"), SlotSet("order_id", "230915-123456789012")]:
        on_second.update(event)
    await second.save(on_second)

    seen_by_first = await first.retrieve("shopper")
    assert seen_by_first.get_slot("order_id") == "230915-123456789012"
    assert [e.text for e in seen_by_first.events if isinstance(e, UserUttered)] == ["我要退款", "到哪了"]


@pytest.mark.asyncio
async def test_cached_conversation_grows_in_the_database_without_duplicates(tmp_path):
    tracker_store = store(tmp_path / "t.db")
    tracker = await new_conversation(tracker_store, "shopper")
    for turn in range(5):
        tracker = await tracker_store.retrieve("shopper")
        for event in user_turn(f"第{turn}句"):
            tracker.update(event)
        await tracker_store.save(tracker)

    from_disk = await store(tmp_path / "t.db").retrieve("shopper")
    assert list(from_disk.events) == list((await tracker_store.retrieve("shopper")).events)
    assert len([e for e in from_disk.events if isinstance(e, UserUttered)]) == 6


@pytest.mark.asyncio
async def test_a_new_session_is_read_back_as_the_database_has_it(tmp_path):
    tracker_store = store(tmp_path / "t.db")
    tracker = await new_conversation(tracker_store, "shopper")
    for event in [ActionExecuted("action_session_start"), SessionStarted(), *user_turn("新的问题")]:
        tracker.update(event)
    await tracker_store.save(tracker)

    again = await tracker_store.retrieve("shopper")
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["新的问题"]


@pytest.mark.asyncio
async def test_unknown_conversation_is_none(tmp_path):
    assert await store(tmp_path / "t.db").retrieve("nobody") is None


async def written_by_another_instance(tmp_path, *turns):
    """A conversation cached by ``behind``; ``other`` then saves each of ``turns``.

    Each turn is a function making its events then (Rasa reads a session by timestamps).
    """
    behind, other = store(tmp_path / "t.db"), store(tmp_path / "t.db")
    await new_conversation(behind, "shopper")
    await behind.retrieve("shopper")
    for make_events in turns:
        tracker = await other.retrieve("shopper")
        for event in make_events():
            tracker.update(event)
        await other.save(tracker)
    return behind


def refuse_whole_reads(monkeypatch):
    async def whole_read(self, sender_id):
        raise AssertionError("read the whole conversation")

    monkeypatch.setattr(SQLTrackerStore, "retrieve", whole_read)


@pytest.mark.asyncio
async def test_an_instance_that_is_behind_reads_only_the_newer_events(tmp_path, monkeypatch):
    behind = await written_by_another_instance(
        tmp_path, lambda: user_turn("到哪了"),
        lambda: [*user_turn("改地址"), SlotSet("order_id", "230915-123456789012")])
    expected = await store(tmp_path / "t.db").retrieve("shopper")

    refuse_whole_reads(monkeypatch)
    caught_up = await behind.retrieve("shopper")
    monkeypatch.undo()

    assert list(caught_up.events) == list(expected.events)
    assert caught_up.get_slot("order_id") == "230915-123456789012"
    assert caught_up.current_state() == expected.current_state()
    # And it goes on from there: its own next message is stored once.
    for event in user_turn("谢谢"):
        caught_up.update(event)
    await behind.save(caught_up)
    texts = [e.text for e in (await store(tmp_path / "t.db").retrieve("shopper")).events if isinstance(e, UserUttered)]
    assert texts == ["我要退款", "到哪了", "改地址", "谢谢"]


@pytest.mark.asyncio
async def test_a_new_session_written_by_another_instance_is_read_as_the_database_has_it(tmp_path):
    behind = await written_by_another_instance(
        tmp_path, lambda: [ActionExecuted("action_session_start"), SessionStarted(), *user_turn("新的问题")])

    caught_up = await behind.retrieve("shopper")

    assert list(caught_up.events) == list((await store(tmp_path / "t.db").retrieve("shopper")).events)
    assert [e.text for e in caught_up.events if isinstance(e, UserUttered)] == ["新的问题"]


class RecordingBroker(EventBroker):
    """An event broker that keeps what it is given, as RabbitMQ's queue would."""

    def __init__(self) -> None:
        self.published = []

    def publish(self, event, headers=None) -> None:
        self.published.append(event)


def store_on(db_url: str, broker=None) -> CachingSQLTrackerStore:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return CachingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=url.database, event_broker=broker)
    return CachingSQLTrackerStore(domain=DOMAIN, dialect="postgresql", host=url.host, port=url.port,
                                  db=url.database, username=url.username, event_broker=broker)


def count_statements(tracker_store) -> list:
    statements = []
    sqlalchemy.event.listen(tracker_store.engine, "before_cursor_execute",
                            lambda *args: statements.append(args[2]))
    return statements


@pytest.mark.asyncio
async def test_every_event_is_published_once_and_stored_once(db_url):
    broker = RecordingBroker()
    tracker_store = store_on(db_url, broker)
    await new_conversation(tracker_store, "shopper")
    for turn in range(3):
        tracker = await tracker_store.retrieve("shopper")
        for event in [*user_turn(f"第{turn}句"), SlotSet("order_id", f"23091{turn}-123456789012")]:
            tracker.update(event)
        await tracker_store.save(tracker)

    stored = await store_on(db_url).retrieve_full_tracker("shopper")
    assert [{"sender_id": "shopper", **event.as_dict()} for event in stored.events] == broker.published
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["我要退款", "第0句", "第1句", "第2句"]
    assert stored.get_slot("order_id") == "230912-123456789012"


@pytest.mark.asyncio
async def test_saving_a_kept_conversation_writes_without_reading_it_back(db_url, monkeypatch):
    tracker_store = store_on(db_url, RecordingBroker())
    await new_conversation(tracker_store, "shopper")
    tracker = await tracker_store.retrieve("shopper")
    for event in user_turn("到哪了"):
        tracker.update(event)
    statements = count_statements(tracker_store)

    await tracker_store.save(tracker)

    assert statements and not [s for s in statements if "FROM events" in s]
    # The ids came back with the insert: the next message finds the kept tracker current.
    refuse_whole_reads(monkeypatch)
    statements.clear()
    again = await tracker_store.retrieve("shopper")
    assert len(statements) == 1 and list(again.events) == list(tracker.events)


@pytest.mark.asyncio
async def test_a_conversation_saved_by_another_instance_in_between_is_stored_in_full(db_url):
    first, second = store_on(db_url), store_on(db_url)
    await new_conversation(first, "shopper")
    tracker = await first.retrieve("shopper")
    on_second = await second.retrieve("shopper")
    for event in user_turn("到哪了"):
        on_second.update(event)
    await second.save(on_second)

    # The first instance retrieves again (as Rasa does for each message) and goes on.
    tracker = await first.retrieve("shopper")
    for event in user_turn("谢谢"):
        tracker.update(event)
    await first.save(tracker)

    texts = [e.text for e in (await store_on(db_url).retrieve("shopper")).events if isinstance(e, UserUttered)]
    assert texts == ["我要退款", "到哪了", "谢谢"]


@pytest.mark.asyncio
async def test_many_events_at_once_are_all_stored_in_order(db_url):
    tracker_store = store_on(db_url)
    await new_conversation(tracker_store, "shopper")
    tracker = await tracker_store.retrieve("shopper")
    for turn in range(120):  # 360 events in one save, as an imported conversation may bring
        for event in user_turn(f"第{turn}句"):
            tracker.update(event)
    await tracker_store.save(tracker)

    again = await tracker_store.retrieve("shopper")
    from_database = await store_on(db_url).retrieve("shopper")
    assert list(from_database.events) == list(tracker.events) == list(again.events)
    assert len(tracker.events) > 360


@pytest.mark.asyncio
async def test_a_new_conversation_is_stored_and_published_whole_without_reading_it_back(db_url):
    broker = RecordingBroker()
    tracker_store = store_on(db_url, broker)
    statements = count_statements(tracker_store)

    tracker = await new_conversation(tracker_store, "first-timer")

    reads = [s for s in statements if "FROM events" in s]
    assert len(reads) == 1 and "max(events.id)" in reads[0]  # only: is anything stored yet?
    stored = await store_on(db_url).retrieve_full_tracker("first-timer")
    assert list(stored.events) == list(tracker.events)
    assert [{"sender_id": "first-timer", **event.as_dict()} for event in tracker.events] == broker.published


@pytest.mark.asyncio
async def test_a_stored_conversation_this_instance_never_read_gets_only_its_new_events_stored(db_url):
    await new_conversation(store_on(db_url), "shopper")
    tracker = await store_on(db_url).retrieve("shopper")
    for event in user_turn("到哪了"):
        tracker.update(event)

    await store_on(db_url).save(tracker)  # an instance with nothing of it in memory

    texts = [e.text for e in (await store_on(db_url).retrieve_full_tracker("shopper")).events
             if isinstance(e, UserUttered)]
    assert texts == ["我要退款", "到哪了"]


@pytest.mark.asyncio
async def test_the_freshness_check_reads_the_conversation_index_however_big_the_table(db_url):
    tracker_store = store_on(db_url)
    await new_conversation(tracker_store, "shopper")
    store_on(db_url)  # a second instance starting on the same database is fine too

    with tracker_store.engine.connect() as connection:
        if tracker_store.engine.dialect.name == "postgresql":
            connection.execute(sqlalchemy.text("SET enable_seqscan = off"))  # a tiny table: plan as for a big one
            plan = connection.execute(sqlalchemy.text(
                "EXPLAIN SELECT max(id) FROM events WHERE sender_id = 'shopper'")).scalars().all()
        else:
            plan = [row[-1] for row in connection.execute(sqlalchemy.text(
                "EXPLAIN QUERY PLAN SELECT max(id) FROM events WHERE sender_id = 'shopper'"))]
    assert any("ix_events_sender_id_id" in line for line in plan), plan
