"""The report's figures as CSV: one file per figure in ``<out>/triage-report-data/``.

One file per figure (rather than one long table) so each opens in Excel as
it is. Every file has English column names and, where a code is shown, a
``*_zh`` column with the Chinese label of the page. Encoding is UTF-8 with a
BOM: without it Excel on Windows reads Chinese as mojibake. Rates are
fractions (0.5 = 50%), rounded to 4 decimals; empty cells mean "no data";
yes/no columns are ``true``/``false``.

``conversations.csv`` has one row per conversation of the period (oldest
session first): its sender, start (Shanghai time), topic, user messages,
escalations, whether it was contained, whether it was frustrated and its
turns to a person (empty when it was not frustrated or reached nobody).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional

from bot.clock import in_service_zone
from bot.report import labels
from bot.report.figures import ConversationRow, Figures

DATA_DIR_NAME = "triage-report-data"


def write_csv_files(figures: Figures, out_dir: Path) -> Path:
    """Write every figure's CSV; the folder they are in."""
    folder = out_dir / DATA_DIR_NAME
    folder.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in tables(figures).items():
        _write(folder / f"{name}.csv", header, rows)
    return folder


def tables(figures: Figures) -> dict[str, tuple]:
    """File name -> (header, rows)."""
    return {
        "summary": (["metric", "value"], summary_rows(figures)),
        "daily": (
            ["date", "conversations", "messages"],
            [[row.day.isoformat(), row.conversations, row.messages] for row in figures.daily],
        ),
        "hourly": (
            ["hour", "conversations", "messages"],
            [[row.hour, row.conversations, row.messages] for row in figures.hourly],
        ),
        "containment_by_topic": (
            ["topic", "topic_zh", "conversations", "contained", "containment_rate"],
            [
                [row.topic, labels.intent_label(row.topic), row.conversations, row.contained, _rate(row.rate)]
                for row in figures.containment_by_topic
            ],
        ),
        "escalations_by_reason": (
            ["reason", "reason_zh", "in_hours", "off_hours", "total"],
            [
                [row.reason, labels.reason_label(row.reason), row.in_hours, row.off_hours, row.total]
                for row in figures.escalations
            ],
        ),
        "top_intents": (
            ["intent", "intent_zh", "messages"],
            [[intent, labels.intent_label(intent), count] for intent, count in figures.intents],
        ),
        "fraud_checks": (
            ["level", "level_zh", "checks"],
            [[level, labels.fraud_level_label(level), count] for level, count in figures.fraud_levels],
        ),
        "ratings": (["score", "ratings"], [list(row) for row in figures.ratings]),
        "tickets": (
            ["kind", "kind_zh", "status", "status_zh", "priority", "tickets"],
            [
                [
                    row.kind,
                    labels.ticket_kind_label(row.kind),
                    row.status,
                    labels.ticket_status_label(row.status),
                    _yes_no(row.priority),
                    row.count,
                ]
                for row in figures.tickets
            ],
        ),
        "conversations": (CONVERSATION_COLUMNS, [conversation_cells(row) for row in figures.conversation_rows]),
    }


CONVERSATION_COLUMNS = [
    "sender_id",
    "started_at",
    "topic",
    "topic_zh",
    "messages",
    "escalations",
    "contained",
    "frustrated",
    "turns_to_person",
    "agent_handled",
    "handling_seconds",
]


def conversation_cells(row: ConversationRow) -> list[Any]:
    return [
        row.sender_id,
        in_service_zone(row.started_at).isoformat(timespec="seconds"),
        row.topic,
        labels.intent_label(row.topic),
        row.messages,
        row.escalations,
        _yes_no(row.contained),
        _yes_no(row.frustrated),
        _number(row.turns_to_person),
        _yes_no(row.agent_handled),
        _number(row.handling_seconds),
    ]


def summary_rows(figures: Figures) -> list[list[Any]]:
    period = figures.period
    return [
        ["period_from", period.first.isoformat() if period.first else ""],
        ["period_to", period.last.isoformat() if period.last else ""],
        ["conversations", figures.conversations],
        ["contained_conversations", figures.contained],
        ["containment_rate", _rate(figures.containment_rate)],
        ["promised_containment", _rate(figures.promised_containment)],
        ["messages", figures.messages],
        ["messages_outside_handoff", figures.classified_messages],
        ["nlu_fallback_messages", figures.fallback_messages],
        ["nlu_fallback_rate", _rate(figures.fallback_rate)],
        ["escalations", figures.escalation_total],
        ["escalated_conversations", figures.escalated_conversations],
        ["median_seconds_before_escalation", _number(figures.median_seconds_before_escalation)],
        ["frustrated_conversations", figures.frustration.conversations],
        ["frustrated_share", _rate(figures.frustrated_share)],
        ["frustrated_reached_person", figures.frustration.reached],
        ["frustrated_not_reached_person", figures.frustration.not_reached],
        ["median_turns_to_person", _number(figures.frustration.median_turns)],
        ["max_turns_to_person", _number(figures.frustration.max_turns)],
        ["agent_handled_conversations", figures.agent_handling.conversations],
        ["agent_handled_share_of_escalated", _rate(figures.agent_share_of_escalated)],
        ["agent_messages", figures.agent_handling.messages],
        ["median_handling_seconds", _number(figures.agent_handling.median_seconds)],
        ["max_handling_seconds", _number(figures.agent_handling.max_seconds)],
        ["fraud_checks", sum(count for _, count in figures.fraud_levels)],
        ["ratings", figures.rated],
        ["average_rating", _rate(figures.average_rating)],
        ["tickets", figures.ticket_total],
    ]


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _rate(value: Optional[float]) -> Any:
    return "" if value is None else round(value, 4)


def _number(value: Optional[float]) -> Any:
    return "" if value is None else round(value, 1)


def _yes_no(value: bool) -> str:
    return "true" if value else "false"
