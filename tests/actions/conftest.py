"""Action tests run against a private SQLite service database and a pinned clock."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker

from bot import clock
from bot.services import backends
from bot.stores import orders as order_stores

DAYTIME = datetime.fromisoformat("2026-11-25T10:30:00+08:00")
NIGHT = datetime.fromisoformat("2026-11-25T23:30:00+08:00")
EARLY_MORNING = datetime.fromisoformat("2026-11-26T05:00:00+08:00")
# Every message the dispatcher collects has these keys besides text and buttons.
MESSAGE_DEFAULTS = {
    "elements": [], "custom": {}, "template": None, "response": None,
    "image": None, "attachment": None,
}


@pytest.fixture
def service_db(tmp_path, monkeypatch):
    """A fresh ticket store and demo order store for one test, the clock at 10:30 Shanghai."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'service.db'}")
    monkeypatch.delenv("ORDER_STORE", raising=False)
    # No agent desk: the handoff says what it says without one.
    monkeypatch.delenv("DESK_AGENTS", raising=False)
    monkeypatch.setenv("DESK_AGENTS_FILE", str(tmp_path / "no-desk-agents.yml"))
    backends.tickets.cache_clear()
    order_stores._order_store.cache_clear()
    with clock.frozen_at(DAYTIME):
        yield backends.tickets()
    backends.tickets.cache_clear()
    order_stores._order_store.cache_clear()


def user_event(text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": entities or []},
    }


def entity(name: str, value: str) -> Dict[str, Any]:
    return {"entity": name, "value": value}


def tracker_with(
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    sender_id: str = "shopper-1",
) -> Tracker:
    """A tracker whose latest message is the last user event of ``events``."""
    events = events or []
    users = [event for event in events if event["event"] == "user"]
    latest = users[-1]["parse_data"] if users else {"text": "", "intent": {}, "entities": []}
    return Tracker.from_dict({
        "sender_id": sender_id,
        "slots": {"case_failures": 0, "fraud_details_asked": False, **(slots or {})},
        "latest_message": {**latest, "text": users[-1]["text"] if users else ""},
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": "action_listen",
    })


def sent(text: str, buttons: Optional[List[Dict[str, str]]] = None) -> Dict[str, Any]:
    """A dispatched message as rasa_sdk collects it."""
    return {"text": text, "buttons": buttons or [], **MESSAGE_DEFAULTS}
