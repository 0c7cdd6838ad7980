"""Patch: a tracker store that fails raises its error instead of carrying on in memory.

Replaces: ``rasa.core.tracker_store.FailSafeTrackerStore.__init__``, the
wrapper ``Agent`` puts around every tracker store (the original still builds it).

Why: on any error of the store (its database unreachable) Rasa's wrapper logs
and carries on: a retrieve answers "no conversation", so the bot starts the
conversation afresh, and a save goes to an in-memory store of this process
only. The user gets a normal-looking answer while the conversation is lost,
and the HTTP API answers a fresh empty tracker. Here the wrapper is built
with an error callback that raises the error again (unless a caller gives
its own callback), so the failure reaches whoever asked: our channels tell
the user the outage message with the hotline (bot/channels/outage.py) and the
HTTP API answers 503. The next message tries the database again.

Measured: with PostgreSQL cut behind a proxy, Rasa answered the REST channel
200 with a conversation started afresh and kept only in memory; patched, the
user gets a 503 with the hotline, and every message that was answered
normally is in the database (tests/test_database_outage.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore

from bot.rasa_compat.patch import Patch


def raise_again(error: Exception) -> None:
    """The error callback that ends the fallback: the caller gets the store's error."""
    raise error


def build_without_fallback(
    self: FailSafeTrackerStore,
    tracker_store: TrackerStore,
    on_tracker_store_error: Optional[Callable[[Exception], None]] = None,
    fallback_tracker_store: Optional[TrackerStore] = None,
) -> None:
    PATCH.original()(self, tracker_store, on_tracker_store_error or raise_again, fallback_tracker_store)


PATCH = Patch(
    module="rasa.core.tracker_store",
    owner="FailSafeTrackerStore",
    attribute="__init__",
    replacement=build_without_fallback,
    upstream_sha256="a1d5d95d2f96830b72e12729e0e200ceb97da2a9e4443e9568ca7ccadd8154f2",
)
