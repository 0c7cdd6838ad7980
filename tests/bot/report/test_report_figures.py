"""The report's figures, exactly, from stores with known conversations (see conftest.py)."""
from __future__ import annotations

import statistics
from datetime import date

import pytest
from rasa.core.tracker_store import SQLTrackerStore

from bot.report.cli import read_figures
from bot.report.figures import DayCount, HourCount, ReasonCount, TicketCount, TopicContainment
from bot.report.period import Period
from bot.report.reading import events_table, open_store, read_events

NOV_24, NOV_25 = date(2026, 11, 24), date(2026, 11, 25)


@pytest.fixture
def figures(sqlite_stores):
    return read_figures(Period(), sqlite_stores.tracker_url, sqlite_stores.service_url)


def test_conversations_and_messages(figures):
    # kim's session has no user message; erin's two sessions are two conversations.
    assert figures.conversations == 11
    assert figures.messages == 18
    assert figures.daily == (DayCount(NOV_24, 1, 1), DayCount(NOV_25, 10, 17))


def test_hour_of_day_in_shanghai_time(figures):
    messages = {2: 1, 9: 1, 10: 4, 11: 2, 12: 2, 14: 2, 15: 1, 16: 2, 17: 1, 23: 2}
    started = {2: 1, 9: 1, 10: 2, 11: 1, 12: 1, 14: 1, 15: 1, 16: 1, 17: 1, 23: 1}
    assert figures.hourly == tuple(HourCount(hour, started.get(hour, 0), messages.get(hour, 0)) for hour in range(24))


def test_containment_overall_and_per_topic(figures):
    # alice, erin twice, grace (her dispute is resolved) and ivan.
    assert figures.contained == 5
    assert figures.containment_rate == 5 / 11
    assert figures.promised_containment == 0.7
    assert figures.containment_by_topic == (
        TopicContainment("fraud_check", 2, 2),
        TopicContainment("nlu_fallback", 2, 0),
        TopicContainment("request_human", 2, 0),
        TopicContainment("ask_hotline", 1, 1),
        TopicContainment("ask_service_hours", 1, 1),
        TopicContainment("complaint", 1, 0),
        TopicContainment("logistics", 1, 0),
        TopicContainment("refund", 1, 1),
    )


def test_escalations_by_reason_and_service_hours(figures):
    assert figures.escalations == (
        ReasonCount("asked_for_human", in_hours=1, off_hours=1),
        ReasonCount("not_understood_twice", in_hours=1, off_hours=0),
        ReasonCount("none_of_the_topics", in_hours=0, off_hours=1),
        ReasonCount("low_policy_confidence", in_hours=1, off_hours=0),
        ReasonCount("priority_complaint", in_hours=1, off_hours=0),
    )
    assert figures.escalated_conversations == 6


def test_median_time_before_escalation(figures):
    # bob 1 s, judy 5 s, dave 30 s, carol 60 s, frank 120 s, heidi 300 s.
    assert figures.median_seconds_before_escalation == statistics.median([1, 5, 30, 60, 120, 300]) == 45


def test_nlu_fallback_rate_leaves_out_messages_relayed_to_an_agent(figures):
    assert (figures.fallback_messages, figures.classified_messages) == (3, 17)
    assert figures.fallback_rate == 3 / 17


def test_top_intents(figures):
    assert figures.intents == (
        ("nlu_fallback", 3), ("fraud_check", 2), ("inform", 2), ("request_human", 2),
        ("ask_hotline", 1), ("ask_service_hours", 1), ("complaint", 1), ("deny", 1),
        ("greet", 1), ("logistics", 1), ("refund", 1), ("thank", 1),
    )


def test_fraud_checks_by_level(figures):
    assert figures.fraud_levels == (("high", 1), ("medium", 0), ("low", 1))


def test_ratings(figures):
    assert figures.ratings == ((1, 0), (2, 1), (3, 0), (4, 1), (5, 1))
    assert figures.average_rating == 11 / 3


def test_tickets_by_type_priority_and_state(figures):
    assert figures.tickets == (
        TicketCount("complaint", "open", True, 1),
        TicketCount("dispute", "resolved", False, 1),
        TicketCount("handoff", "open", False, 1),
        TicketCount("callback", "in_progress", False, 1),
        TicketCount("message", "open", False, 1),
    )


def test_one_day(sqlite_stores):
    figures = read_figures(Period(NOV_25, NOV_25), sqlite_stores.tracker_url, sqlite_stores.service_url)
    assert (figures.conversations, figures.contained, figures.messages) == (10, 4, 17)
    assert figures.daily == (DayCount(NOV_25, 10, 17),)
    assert figures.ticket_total == 5 and figures.rated == 3


def test_the_day_before(sqlite_stores):
    figures = read_figures(Period(last=NOV_24), sqlite_stores.tracker_url, sqlite_stores.service_url)
    assert (figures.conversations, figures.contained, figures.messages) == (1, 1, 1)
    assert figures.containment_by_topic == (TopicContainment("ask_service_hours", 1, 1),)
    assert figures.escalation_total == 0 and figures.ticket_total == 0 and figures.rated == 0
    assert figures.median_seconds_before_escalation is None


def test_a_period_without_data_is_empty(sqlite_stores):
    figures = read_figures(Period(date(2026, 12, 1), date(2026, 12, 2)), sqlite_stores.tracker_url,
                           sqlite_stores.service_url)
    assert figures.is_empty
    assert figures.containment_rate is None and figures.fallback_rate is None and figures.average_rating is None
    assert figures.daily == (DayCount(date(2026, 12, 1), 0, 0), DayCount(date(2026, 12, 2), 0, 0))


def test_small_pages_read_the_same_events(sqlite_stores):
    engine = open_store(sqlite_stores.tracker_url)
    assert list(read_events(engine, Period(), page_size=3)) == list(read_events(engine, Period(), page_size=5000))


def test_events_table_mirrors_rasas():
    rasa_columns = {(c.name, type(c.type)) for c in SQLTrackerStore.SQLEvent.__table__.columns}
    assert {(c.name, type(c.type)) for c in events_table.columns} == rasa_columns


def test_same_figures_on_postgresql(sqlite_stores, postgres_stores):
    on_sqlite = read_figures(Period(NOV_25, NOV_25), sqlite_stores.tracker_url, sqlite_stores.service_url)
    on_postgres = read_figures(Period(NOV_25, NOV_25), postgres_stores.tracker_url, postgres_stores.service_url)
    assert on_postgres == on_sqlite
