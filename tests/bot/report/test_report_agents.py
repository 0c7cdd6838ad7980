"""Conversations agents took over at the desk, and their handling time: figures, CSV and page.

The desk stores every message it sends as a bot message with ``desk``
metadata (bot/services/desk.py); these conversations are written the way the
desk and the bot write them, 2026-11-25 Shanghai time:

| sender | what happens | expected |
|---|---|---|
| quinn | asks for a person 10:00, wang joins 10:02, two replies, closes 10:09 | handled, 7 min |
| rosa | asks 11:00, li joins 11:01, one reply, transfers to wang, wang closes 11:21 | handled, 20 min, 2 agents |
| sam | asks 12:00, wang joins 12:05, one reply, the user says 回到机器人 12:08 | handled, 3 min |
| tina | asks 13:00, nobody joins | escalated, not handled |
| uma | greets | neither |
"""
from __future__ import annotations

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered

from bot.report.cli import read_figures
from bot.report.period import Period
from tests.bot.report.scenario import _ts, action, at, handoff_slot, session, step, user, write_trackers
from tests.bot.report.test_report_page import read_csv, run_report


def desk(kind: str, moment, agent=None, text="…"):
    return [BotUttered(text, metadata={"desk": {"kind": kind, "agent": agent}}, timestamp=_ts(moment))]


def asks_for_a_person(moment, number):
    return (user("request_human", moment) + step("utter_escalate", moment, "人工")
            + step("action_handoff", moment, "工单") + handoff_slot(number, moment)
            + action("action_listen", moment))


def agent_events():
    return {
        "quinn": session(at(10)) + asks_for_a_person(at(10), "T20261125-0001")
        + desk("joined", at(10, 2), "wang") + desk("reply", at(10, 3), "wang")
        + user("nlu_fallback", at(10, 4), "好的") + action("action_relay_to_agent", at(10, 4))
        + desk("reply", at(10, 5), "wang") + desk("closed", at(10, 9), "wang")
        + handoff_slot(None, at(10, 9)),
        "rosa": session(at(11)) + asks_for_a_person(at(11), "T20261125-0002")
        + desk("joined", at(11, 1), "li") + desk("reply", at(11, 2), "li")
        + desk("transferred", at(11, 3), "li") + desk("closed", at(11, 21), "wang"),
        "sam": session(at(12)) + asks_for_a_person(at(12), "T20261125-0003")
        + desk("joined", at(12, 5), "wang") + desk("reply", at(12, 6), "wang")
        + user("resume_bot", at(12, 8), "回到机器人") + action("action_resume_bot", at(12, 8, 1), "回来啦"),
        "tina": session(at(13)) + asks_for_a_person(at(13), "T20261125-0004"),
        "uma": session(at(14)) + user("greet", at(14)) + action("utter_greet", at(14, 0, 1), "您好"),
    }


@pytest.fixture
def stores(tmp_path):
    tracker_path = tmp_path / "agents-tracker.db"
    write_trackers(SQLTrackerStore(dialect="sqlite", db=str(tracker_path)), agent_events())
    return f"sqlite:///{tracker_path}", f"sqlite:///{tmp_path / 'no-service.db'}"


def test_agent_handled_conversations_and_their_handling_time(stores):
    figures = read_figures(Period(), *stores)
    handling = figures.agent_handling
    assert (handling.conversations, handling.messages) == (3, 4)
    assert handling.handling_seconds == (181.0, 420.0, 1200.0)
    assert (handling.median_seconds, handling.max_seconds) == (420.0, 1200.0)
    assert figures.escalated_conversations == 4
    assert figures.agent_share_of_escalated == 0.75
    rows = {row.sender_id: (row.agent_handled, row.handling_seconds) for row in figures.conversation_rows}
    assert rows == {"quinn": (True, 420.0), "rosa": (True, 1200.0), "sam": (True, 181.0),
                    "tina": (False, None), "uma": (False, None)}


def test_the_csv_files_and_the_page_show_them(stores, tmp_path):
    tracker_url, service_url = stores
    done = run_report("--tracker-db", tracker_url, "--service-db", service_url, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr

    summary = dict(read_csv(tmp_path / "triage-report-data" / "summary.csv")[1:])
    assert {key: summary[key] for key in ("agent_handled_conversations", "agent_handled_share_of_escalated",
                                          "agent_messages", "median_handling_seconds", "max_handling_seconds")} == {
        "agent_handled_conversations": "3", "agent_handled_share_of_escalated": "0.75", "agent_messages": "4",
        "median_handling_seconds": "420.0", "max_handling_seconds": "1200.0"}
    header, *rows = read_csv(tmp_path / "triage-report-data" / "conversations.csv")
    handled, seconds = header.index("agent_handled"), header.index("handling_seconds")
    assert [(row[0], row[handled], row[seconds]) for row in rows] == [
        ("quinn", "true", "420.0"), ("rosa", "true", "1200.0"), ("sam", "true", "181.0"),
        ("tina", "false", ""), ("uma", "false", "")]

    page = (tmp_path / "triage-report.html").read_text(encoding="utf-8")
    section = page[page.index("人工接待 · Handled by agents"):]
    section = section[:section.index("</section>")]
    for cells in ("<td>人工接待的对话</td><td>conversations an agent took over</td><td>3</td>",
                  "<td>占转人工的对话</td><td>share of escalated conversations</td><td>75.0%</td>",
                  "<td>7分00秒</td>", "<td>20分00秒</td>"):
        assert cells in section
