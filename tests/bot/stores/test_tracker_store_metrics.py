"""The caching tracker store counts the database errors, also behind Rasa's FailSafeTrackerStore."""
from __future__ import annotations

import pytest
import sqlalchemy
from prometheus_client import REGISTRY
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.events import ActionExecuted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_compat
from bot.stores.tracker_store import CachingSQLTrackerStore


def errors(operation):
    return REGISTRY.get_sample_value("triage_tracker_store_errors_total", {"operation": operation}) or 0.0


def store_whose_database_is_down(tmp_path) -> CachingSQLTrackerStore:
    store = CachingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))
    store.engine = sqlalchemy.create_engine("postgresql://postgres@127.0.0.1:1/triage")  # nothing listens there
    return store


@pytest.mark.asyncio
async def test_a_failed_read_and_a_failed_write_are_counted_and_still_raised(tmp_path):
    store = store_whose_database_is_down(tmp_path)
    before = errors("retrieve"), errors("save")
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await store.retrieve("shopper")
    tracker = DialogueStateTracker.from_events("shopper", [ActionExecuted("action_session_start"), SessionStarted()])
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await store.save(tracker)
    assert (errors("retrieve") - before[0], errors("save") - before[1]) == (1, 1)


@pytest.mark.asyncio
async def test_the_count_goes_up_behind_rasas_fail_safe_store_which_no_longer_hides_the_error(tmp_path):
    # As in the running bot: the channel tells the user (bot/channels/outage.py), monitoring sees the outage.
    rasa_compat.install()
    before = errors("retrieve")
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await FailSafeTrackerStore(store_whose_database_is_down(tmp_path)).retrieve("shopper")
    assert errors("retrieve") - before == 1


@pytest.mark.asyncio
async def test_a_working_database_counts_no_error(tmp_path):
    store = CachingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))
    before = errors("retrieve"), errors("save")
    tracker = DialogueStateTracker.from_events("shopper", [ActionExecuted("action_session_start"), SessionStarted()])
    await store.save(tracker)
    assert await store.retrieve("shopper") is not None
    assert (errors("retrieve"), errors("save")) == before
