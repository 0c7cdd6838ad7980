"""Frustrated conversations and their turns to a person: figures, CSV and page (scenario.py, 2nd table)."""
from __future__ import annotations

import dataclasses

import pytest

from bot.report import labels
from bot.report.cli import read_figures
from bot.report.conversations import conversations_from
from bot.report.csv_files import CONVERSATION_COLUMNS
from bot.report.figures import Frustration
from bot.report.period import Period
from bot.report.reading import frustration_cues
from tests.bot.report.scenario import at, frustration_entity
from tests.bot.report.test_report_conversations import event, ticket
from tests.bot.report.test_report_page import read_csv, run_report


@pytest.fixture
def figures(frustration_stores):
    return read_figures(Period(), frustration_stores.tracker_url, frustration_stores.service_url)


def test_frustrated_conversations_and_turns_to_a_person(figures):
    # mia: 1 turn, noah: 3 turns (his greeting before the frustration does not count),
    # olivia: never reached a person; peter is calm although escalated.
    assert figures.conversations == 4 and figures.escalated_conversations == 3
    assert figures.frustration == Frustration(conversations=3, turns_to_person=(1, 3))
    assert figures.frustrated_share == 0.75
    assert (figures.frustration.reached, figures.frustration.not_reached) == (2, 1)
    assert (figures.frustration.median_turns, figures.frustration.max_turns) == (2, 3)


def test_each_conversation_says_whether_it_was_frustrated(figures):
    rows = {row.sender_id: (row.frustrated, row.turns_to_person) for row in figures.conversation_rows}
    assert rows == {"mia": (True, 1), "noah": (True, 3), "olivia": (True, None), "peter": (False, None)}


def test_csv_files_and_page_show_the_frustrated_conversations(frustration_stores, tmp_path):
    done = run_report("--tracker-db", frustration_stores.tracker_url, "--service-db", frustration_stores.service_url,
                      "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr

    header, *rows = read_csv(tmp_path / "triage-report-data" / "conversations.csv")
    assert header == CONVERSATION_COLUMNS
    frustrated, turns = header.index("frustrated"), header.index("turns_to_person")
    assert turns == frustrated + 1
    assert [(row[0], row[1], row[frustrated], row[turns]) for row in rows] == [
        ("mia", "2026-11-25T10:00:00+08:00", "true", "1"),
        ("noah", "2026-11-25T11:00:00+08:00", "true", "3"),
        ("olivia", "2026-11-25T12:00:00+08:00", "true", ""),
        ("peter", "2026-11-25T13:00:00+08:00", "false", ""),
    ]
    summary = dict(read_csv(tmp_path / "triage-report-data" / "summary.csv")[1:])
    assert {key: summary[key] for key in (
        "frustrated_conversations", "frustrated_share", "frustrated_reached_person",
        "frustrated_not_reached_person", "median_turns_to_person", "max_turns_to_person",
    )} == {
        "frustrated_conversations": "3", "frustrated_share": "0.75", "frustrated_reached_person": "2",
        "frustrated_not_reached_person": "1", "median_turns_to_person": "2.0", "max_turns_to_person": "3",
    }

    page = (tmp_path / "triage-report.html").read_text(encoding="utf-8")
    section = page[page.index("用户不满 · Frustrated conversations"):]
    section = section[:section.index("</section>")]
    for cells in ("<td>不满的对话</td><td>frustrated conversations</td><td>3</td>",
                  "<td>占全部对话</td><td>share of conversations</td><td>75.0%</td>",
                  "<td>转到人工</td><td>reached a person</td><td>2</td>",
                  "<td>未转到人工</td><td>did not reach a person</td><td>1</td>",
                  "<td>2 轮</td>", "<td>3 轮</td>"):
        assert cells in section
    assert 'id="def-frustration"' in page


def test_same_frustration_figures_on_postgresql(figures, postgres_frustration_stores):
    on_postgres = read_figures(Period(), postgres_frustration_stores.tracker_url,
                               postgres_frustration_stores.service_url)
    assert on_postgres == figures


def test_a_period_without_frustration_shows_zeros_and_no_turns(sqlite_stores):
    figures = read_figures(Period(), sqlite_stores.tracker_url, sqlite_stores.service_url)
    assert figures.frustration == Frustration(conversations=0)
    assert figures.frustrated_share == 0
    assert figures.frustration.median_turns is None and figures.frustration.max_turns is None


def frustrated(moment, intent="request_human", cue="insult"):
    return dataclasses.replace(event("user", moment, intent), frustration=(cue,))


def test_a_frustrated_message_to_an_agent_already_reached_a_person():
    events = [event("user", at(10), "request_human"), event("action", at(10, 0, 1), "utter_escalate"),
              event("slot", at(10, 0, 2), "handoff_ticket", value="T1"), frustrated(at(10, 5), "nlu_fallback")]
    (only,) = conversations_from(events, [], labels.fraud_level_labels())
    assert only.frustrated and only.turns_to_person() == 0


def test_an_escalation_before_the_frustration_does_not_count():
    events = [event("user", at(10), "nlu_fallback"), event("action", at(10, 0, 1), "action_ask_which_topic"),
              event("user", at(10, 1), "deny"), event("action", at(10, 1, 1), "utter_default"),
              frustrated(at(10, 2), "nlu_fallback"), event("action", at(10, 2, 1), "action_ask_which_topic")]
    (only,) = conversations_from(events, [], labels.fraud_level_labels())
    assert only.escalations and only.frustrated and only.turns_to_person() is None


def test_a_priority_complaint_reaches_a_person():
    events = [frustrated(at(16), "complaint", "threat"), event("action", at(16, 0, 1), "complaint_form"),
              event("user", at(16, 1), "inform"), event("action", at(16, 2), "action_open_complaint")]
    (only,) = conversations_from(events, [ticket("complaint", at(16, 2), priority=True)], labels.fraud_level_labels())
    assert only.turns_to_person() == 2


def test_frustration_cues_are_the_values_of_frustration_entities():
    parse_data = {"intent": {"name": "complaint"}, "entities": [
        {"entity": "order_id", "value": "1234567890"}, frustration_entity("threat", "我要投诉"),
        frustration_entity("insult", "垃圾"),
    ]}
    assert frustration_cues(parse_data) == ("threat", "insult")
    assert frustration_cues({"entities": [{"entity": "order_id", "value": "1"}]}) == ()
    assert frustration_cues(None) == ()
