"""Tickets keep what the shopper told us and a number they can quote back."""
from __future__ import annotations

import multiprocessing
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import clock
from bot.stores import database, tickets
from bot.stores.database import create_engine_for, shared_engine
from bot.stores.tickets import (
    TicketKind,
    TicketStatus,
    TicketStore,
    canonical_ticket_number,
    parse_ticket_number,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=SHANGHAI)
NUMBER_FORMAT = re.compile(r"T\d{8}-\d{4,}")


@pytest.fixture
def store(engine) -> TicketStore:
    return TicketStore(engine)


def sequence_of(number: str) -> int:
    return int(number.split("-")[1])


# -- creating and reading ----------------------------------------------------

def test_created_ticket_reads_back_with_every_field(store):
    created = store.create(
        TicketKind.COMPLAINT, "shopper-1", "  商家发错货，要求换货  ",
        order_id="261120-482913004417265", priority=True, phone="13812345678",
        details={"reason": "发错货", "photos": 2}, now=NOW,
    )
    read = store.get(created.number)

    assert read == created
    assert (read.kind, read.sender_id, read.status) == ("complaint", "shopper-1", TicketStatus.OPEN)
    assert read.priority is True
    assert read.summary == "商家发错货，要求换货"
    assert (read.order_id, read.phone) == ("261120-482913004417265", "13812345678")
    assert read.details == {"reason": "发错货", "photos": 2}
    assert read.created_at == read.updated_at == NOW
    assert read.created_at.utcoffset() == timedelta(hours=8)


def test_optional_fields_default_to_empty(store):
    ticket = store.get(store.create(TicketKind.HANDOFF, "shopper-1", "转人工", now=NOW).number)
    assert (ticket.order_id, ticket.phone, ticket.details, ticket.priority) == (None, None, {}, False)


def test_number_carries_the_shanghai_date(store):
    # 23:30 UTC on the 24th is already 07:30 on the 25th in Shanghai.
    late_utc = datetime(2026, 11, 24, 23, 30, tzinfo=timezone.utc)
    ticket = store.create(TicketKind.CALLBACK, "shopper-1", "请回电", now=late_utc)

    assert NUMBER_FORMAT.fullmatch(ticket.number)
    assert ticket.number == "T20261125-0001"
    assert ticket.created_at == late_utc
    assert ticket.created_at.astimezone(SHANGHAI).date().isoformat() == "2026-11-25"
    assert store.get(ticket.number).created_at.hour == 7


def test_naive_time_counts_as_shanghai_time(store):
    ticket = store.create(TicketKind.MESSAGE, "shopper-1", "留言", now=datetime(2026, 11, 25, 23, 59))
    assert ticket.number.startswith("T20261125-")
    assert ticket.created_at == datetime(2026, 11, 25, 23, 59, tzinfo=SHANGHAI)


def test_number_uses_the_service_clock_by_default(store):
    with clock.frozen_at(datetime(2027, 2, 1, 0, 5, tzinfo=SHANGHAI)):
        ticket = store.create(TicketKind.MESSAGE, "shopper-1", "夜间留言")
    assert ticket.number == "T20270201-0001"


def test_sequence_continues_and_restarts_each_day(store):
    first_day = [store.create(TicketKind.DISPUTE, "s", "退款纠纷", now=NOW).number for _ in range(3)]
    next_day = store.create(TicketKind.DISPUTE, "s", "退款纠纷", now=NOW + timedelta(days=1)).number
    back_on_first_day = store.create(TicketKind.DISPUTE, "s", "又一单", now=NOW).number

    assert first_day == ["T20261125-0001", "T20261125-0002", "T20261125-0003"]
    assert next_day == "T20261126-0001"
    assert back_on_first_day == "T20261125-0004"


def test_another_store_on_the_same_database_continues_the_numbers(engine, store):
    store.create(TicketKind.LOGISTICS, "s", "物流不动", now=NOW)
    second_server = TicketStore(engine)  # creating the tables again changes nothing
    assert second_server.create(TicketKind.LOGISTICS, "s", "物流不动", now=NOW).number == "T20261125-0002"
    assert second_server.get("T20261125-0001").summary == "物流不动"


def test_unknown_kind_is_refused(store):
    with pytest.raises(ValueError):
        store.create("praise", "shopper-1", "表扬客服", now=NOW)


def test_long_summary_is_capped(store):
    ticket = store.create(TicketKind.COMPLAINT, "s", "很" * 50_000, now=NOW)
    assert 1000 <= len(store.get(ticket.number).summary) <= 10_000


@pytest.mark.parametrize("written", [
    "T20261125-0007", "t20261125-0007", " T20261125 0007 ", "T202611250007", "T20261125--0007",
    "Ｔ２０２６１１２５－０００７", "t20261125—0007", "20261125-0007", "T20261125-7",
])
def test_get_finds_a_number_written_sloppily(store, written):
    for _ in range(7):
        ticket = store.create(TicketKind.COMPLAINT, "s", "投诉", now=NOW)
    assert ticket.number == "T20261125-0007"
    assert store.get(written) == ticket


@pytest.mark.parametrize("written", ["", "T20261125-0099", "T20261126-0001", "hello", "T2026112"])
def test_get_of_an_unknown_number_is_none(store, written):
    store.create(TicketKind.COMPLAINT, "s", "投诉", now=NOW)
    assert store.get(written) is None


# -- a sender's tickets --------------------------------------------------------

def test_for_sender_lists_newest_first_and_only_theirs(store):
    mine = [
        store.create(TicketKind.COMPLAINT, "alice", f"第{index}次投诉", now=NOW + timedelta(minutes=index))
        for index in range(7)
    ]
    store.create(TicketKind.COMPLAINT, "bob", "别人的投诉", now=NOW + timedelta(hours=1))

    assert [t.summary for t in store.for_sender("alice")] == [t.summary for t in reversed(mine)][:5]
    assert len(store.for_sender("alice", limit=10)) == 7
    assert [t.summary for t in store.for_sender("bob")] == ["别人的投诉"]
    assert store.for_sender("carol") == []


def test_tickets_created_in_the_same_instant_list_newest_first(store):
    numbers = [store.create(TicketKind.MESSAGE, "alice", "留言", now=NOW).number for _ in range(3)]
    assert [t.number for t in store.for_sender("alice")] == list(reversed(numbers))


# -- status, phone, messages ---------------------------------------------------

def test_status_changes_are_kept(store):
    ticket = store.create(TicketKind.COMPLAINT, "s", "投诉", now=NOW)
    later = NOW + timedelta(hours=2)

    updated = store.set_status(ticket.number.lower(), TicketStatus.IN_PROGRESS, now=later)

    assert updated.status == TicketStatus.IN_PROGRESS
    assert (updated.created_at, updated.updated_at) == (NOW, later)
    assert store.get(ticket.number) == updated
    assert store.set_status(ticket.number, TicketStatus.RESOLVED, now=later).status == "resolved"


def test_status_of_an_unknown_ticket_or_a_made_up_status(store):
    ticket = store.create(TicketKind.COMPLAINT, "s", "投诉", now=NOW)
    assert store.set_status("T20261125-0099", TicketStatus.CLOSED, now=NOW) is None
    with pytest.raises(ValueError):
        store.set_status(ticket.number, "forgotten", now=NOW)
    assert store.get(ticket.number).status == TicketStatus.OPEN


def test_phone_is_added_later(store):
    ticket = store.create(TicketKind.CALLBACK, "s", "请回电", now=NOW)
    updated = store.set_phone(ticket.number, " １３８１２３４５６７８ ", now=NOW + timedelta(minutes=1))
    assert updated.phone == "13812345678"
    assert store.get(ticket.number).phone == "13812345678"
    assert store.set_phone("T20261125-0042", "13812345678") is None


def test_messages_after_a_handoff_reach_the_agent_in_order(store):
    ticket = store.create(TicketKind.HANDOFF, "s", "转人工：退款不到账", now=NOW)
    assert store.add_message(ticket.number, "订单号是261120-482913004417265", now=NOW + timedelta(minutes=1))
    assert store.add_message(ticket.number, "已经等了三天", now=NOW + timedelta(minutes=2))
    assert store.add_message(ticket.number, "您好，正在核实", author="agent", now=NOW + timedelta(minutes=3))

    listed = store.messages(ticket.number)

    assert [(author, text) for _, author, text in listed] == [
        ("user", "订单号是261120-482913004417265"), ("user", "已经等了三天"), ("agent", "您好，正在核实"),
    ]
    assert listed[0].created_at == NOW + timedelta(minutes=1)
    assert store.get(ticket.number).updated_at == NOW + timedelta(minutes=3)


def test_messages_of_unknown_tickets(store):
    ticket = store.create(TicketKind.HANDOFF, "s", "转人工", now=NOW)
    assert store.add_message("T20261125-0099", "有人吗", now=NOW) is False
    assert store.messages("T20261125-0099") == []
    assert store.messages(ticket.number) == []


# -- ratings -------------------------------------------------------------------

def test_ratings_are_kept_per_sender_newest_first(store):
    ticket = store.create(TicketKind.COMPLAINT, "alice", "投诉", now=NOW)
    first = store.add_rating("alice", 5, case="refund", now=NOW)
    second = store.add_rating("alice", 2, ticket_number=ticket.number.lower(), now=NOW + timedelta(hours=1))
    store.add_rating("bob", 4, now=NOW)

    ratings = store.ratings_for("alice")

    assert ratings == [second, first]
    assert (second.score, second.ticket_number, second.case) == (2, ticket.number, None)
    assert (first.score, first.ticket_number, first.case) == (5, None, "refund")
    assert first.created_at == NOW
    assert [r.score for r in store.ratings_for("bob")] == [4]


@pytest.mark.parametrize("score", [0, 6, -1, True, 4.5, "很好"])
def test_ratings_outside_one_to_five_are_refused(store, score):
    with pytest.raises(ValueError):
        store.add_rating("alice", score, now=NOW)
    assert store.ratings_for("alice") == []


def test_rating_given_as_text_counts(store):
    assert store.add_rating("alice", "3", now=NOW).score == 3


# -- what users type is stored as typed ----------------------------------------

def test_sql_looking_text_is_stored_verbatim(store):
    attack = "'; DROP TABLE service_tickets; --"
    ticket = store.create(
        TicketKind.COMPLAINT, attack, attack, order_id=attack[:30], details={attack: attack}, now=NOW
    )
    store.add_message(ticket.number, attack, author=attack, now=NOW)
    store.add_rating(attack, 1, case=attack, now=NOW)

    read = store.get(ticket.number)
    assert (read.summary, read.sender_id, read.details) == (attack, attack, {attack: attack})
    assert store.messages(ticket.number)[0].text == attack
    assert store.for_sender(attack) == [read]
    assert store.ratings_for(attack)[0].case == attack


def test_json_details_round_trip_with_chinese_text(store):
    details = {
        "原因": "快递显示已签收但没收到",
        "evidence": ["聊天截图", "签收照片"],
        "amount": 1999.0,
        "nested": {"商家": "华为官方旗舰店", "urgent": True, "note": None},
        "emoji": "😡",
    }
    ticket = store.create(TicketKind.DISPUTE, "s", "退款纠纷", details=details, now=NOW)
    assert store.get(ticket.number).details == details


# -- concurrency ---------------------------------------------------------------

def test_threads_creating_at_once_get_distinct_consecutive_numbers(store):
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    numbers, errors = [], []

    def create_many():
        start.wait()
        try:
            for index in range(per_thread):
                numbers.append(store.create(TicketKind.HANDOFF, "s", f"转人工{index}", now=NOW).number)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    workers = [threading.Thread(target=create_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert errors == []
    assert len(set(numbers)) == threads * per_thread
    assert sorted(sequence_of(n) for n in numbers) == list(range(1, threads * per_thread + 1))


def _create_tickets_in_process(url: str, sender: str, count: int, start) -> None:
    """One action server: its own engine, started together with the others."""
    store = TicketStore(create_engine_for(url))
    start.wait(timeout=120)
    for index in range(count):
        store.create(TicketKind.MESSAGE, sender, f"留言{index}", now=NOW)


def test_processes_creating_at_once_get_distinct_numbers(engine, db_url):
    processes, per_process = 4, 25
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    workers = [
        context.Process(target=_create_tickets_in_process, args=(db_url, f"server-{i}", per_process, start))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)

    assert [worker.exitcode for worker in workers] == [0] * processes
    store = TicketStore(engine)
    numbers = [t.number for i in range(processes) for t in store.for_sender(f"server-{i}", limit=1000)]
    assert len(set(numbers)) == processes * per_process
    assert sorted(sequence_of(n) for n in numbers) == list(range(1, processes * per_process + 1))


def test_numbering_without_upsert_returning_on_old_sqlite(tmp_path, monkeypatch):
    # SQLite before 3.35 has no RETURNING: the two-step path must also hold.
    monkeypatch.setattr(tickets, "_SQLITE_UPSERT_RETURNING", (99, 0, 0))
    store = TicketStore(create_engine_for(f"sqlite:///{tmp_path / 'old.db'}"))
    numbers = []

    def create_many():
        for _ in range(10):
            numbers.append(store.create(TicketKind.MESSAGE, "s", "留言", now=NOW).number)

    workers = [threading.Thread(target=create_many) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(sequence_of(n) for n in numbers) == list(range(1, 41))
    assert store.create(TicketKind.MESSAGE, "s", "留言", now=NOW + timedelta(days=1)).number == "T20261126-0001"


# -- finding a number in what the shopper wrote ---------------------------------

@pytest.mark.parametrize("text, number", [
    ("我的工单t20261125 0007进度", "T20261125-0007"),
    ("工单号：T20261125-0007", "T20261125-0007"),
    ("工单号是Ｔ２０２６１１２５－０００７，请帮我查一下", "T20261125-0007"),
    ("T202611250012怎么样了", "T20261125-0012"),
    ("查一下 T20261125-12345", "T20261125-12345"),
    ("编号T20261125\u200b-0003", "T20261125-0003"),
])
def test_ticket_number_is_found_in_free_text(text, number):
    assert parse_ticket_number(text) == number


@pytest.mark.parametrize("text", [
    "订单261120-482913004417265",
    "快递单号JT0018265340972",
    "T20261345-0001",
    "T20261125-0000",
    "我要投诉",
    "",
])
def test_text_without_a_ticket_number(text):
    assert parse_ticket_number(text) is None


def test_canonical_number_needs_the_whole_text_to_be_a_number():
    assert canonical_ticket_number("t20261125 7") == "T20261125-0007"
    assert canonical_ticket_number("工单T20261125-0007") is None


# -- the database the stores run on ------------------------------------------------

def test_default_database_is_a_file_in_the_repository(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    repo = Path(__file__).resolve().parents[3]
    assert database.database_url() == f"sqlite:///{repo / '.data' / 'service.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot@db/service")
    assert database.database_url() == "postgresql://bot@db/service"


def test_heroku_style_postgres_url_is_accepted():
    engine = create_engine_for("postgres://bot@127.0.0.1:1/service")
    assert engine.dialect.name == "postgresql"
    assert engine.pool._pre_ping


def test_sqlite_engine_is_tuned_and_creates_its_folder(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'new' / 'folder' / 'service.db'}")
    with engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert (pragma("journal_mode"), pragma("foreign_keys"), pragma("busy_timeout")) == ("wal", 1, 5000)
    assert (tmp_path / "new" / "folder" / "service.db").exists()


def test_shared_engine_is_one_per_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    assert shared_engine(url) is shared_engine(url)
    assert shared_engine(url) is not shared_engine(f"sqlite:///{tmp_path / 'other.db'}")


def test_times_are_stored_as_the_same_instant_in_utc(engine, store):
    # SQLite keeps no offset: a Shanghai wall time stored as such would be
    # read eight hours off by anything that assumes UTC.
    store.create(TicketKind.MESSAGE, "s", "留言", now=NOW)
    with engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT created_at FROM service_tickets").scalar_one()
    if isinstance(raw, str):
        assert raw.startswith("2026-11-25 02:30:00")
    else:
        assert raw == NOW and raw.utcoffset() is not None
