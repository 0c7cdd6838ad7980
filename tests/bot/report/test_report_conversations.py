"""Events -> conversations: sessions, handoffs, fraud levels, tickets."""
from __future__ import annotations

from bot.report import labels
from bot.report.conversations import (
    PRIORITY_COMPLAINT,
    RELAYED_ONLY,
    UNKNOWN_LEVEL,
    conversations_from,
    fraud_level_in,
)
from bot.report.reading import StoredEvent, TicketRecord
from tests.bot.report.scenario import at, fraud_answer


def event(type_name: str, moment, name=None, text=None, value=None, sender="s") -> StoredEvent:
    return StoredEvent(sender, type_name, moment.timestamp(), name, text, value)


def ticket(kind: str, moment, status="open", priority=False, sender="s") -> TicketRecord:
    return TicketRecord("T20261125-0001", kind, sender, status, priority, moment)


def test_the_handoff_carries_over_into_the_next_session():
    events = [
        event("session_started", at(10)), event("user", at(10), "request_human"),
        event("action", at(10, 0, 1), "utter_escalate"), event("slot", at(10, 0, 2), "handoff_ticket", value="T1"),
        event("session_started", at(12)), event("user", at(12), "logistics"),
        event("slot", at(12, 5), "handoff_ticket", value=None), event("user", at(12, 6), "refund"),
    ]
    first, second = conversations_from(events, [], labels.fraud_level_labels())
    assert [m.relayed for m in second.messages] == [True, False]
    assert second.topic == "refund" and second.contained


def test_a_conversation_only_relayed_has_its_own_topic():
    events = [event("slot", at(9), "handoff_ticket", value="T1"), event("user", at(10), "logistics")]
    (only,) = conversations_from(events, [], labels.fraud_level_labels())
    assert only.topic == RELAYED_ONLY


def test_fraud_level_read_from_the_configured_labels():
    assert fraud_level_in(fraud_answer("medium"), labels.fraud_level_labels()) == "medium"
    assert fraud_level_in("随便说说", labels.fraud_level_labels()) is None


def test_fraud_check_without_a_level_in_its_answer_is_unknown():
    events = [event("user", at(10), "fraud_check"), event("action", at(10, 0, 1), "action_fraud_check"),
              event("bot", at(10, 0, 1), text="出错了"), event("action", at(10, 0, 2), "action_listen"),
              event("user", at(10, 1), "thank")]
    (only,) = conversations_from(events, [], labels.fraud_level_labels())
    assert [check.level for check in only.fraud_checks] == [UNKNOWN_LEVEL]


def test_tickets_go_to_the_session_open_when_they_were_created():
    events = [event("session_started", at(10)), event("user", at(10), "complaint"),
              event("session_started", at(14)), event("user", at(14), "ask_hotline")]
    complaint = ticket("complaint", at(10, 2), priority=True)
    later = ticket("logistics", at(14, 1), status="closed")
    before_any = ticket("dispute", at(9))
    first, second = conversations_from(events, [complaint, later, before_any], labels.fraud_level_labels())
    assert first.tickets == (complaint,) and [e.reason for e in first.escalations] == [PRIORITY_COMPLAINT]
    assert second.tickets == (later,) and second.contained  # a closed ticket does not count against it


def test_an_open_ticket_alone_means_not_contained():
    events = [event("user", at(10), "logistics")]
    (only,) = conversations_from(events, [ticket("logistics", at(10, 1))], labels.fraud_level_labels())
    assert not only.escalations and not only.contained
