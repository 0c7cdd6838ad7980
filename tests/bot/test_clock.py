"""bot/clock.py: whether human agents are on duty, in Shanghai time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot import clock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def no_pinned_time(monkeypatch):
    monkeypatch.delenv("BOT_NOW", raising=False)


def test_service_time_zone_is_shanghai():
    assert clock.service_timezone() == SHANGHAI


@pytest.mark.parametrize(
    ("hour", "minute", "is_open"),
    [
        (6, 59, False),
        (7, 0, True),
        (10, 0, True),
        (22, 59, True),
        (23, 0, False),
        (3, 0, False),
        (0, 0, False),
    ],
    ids=lambda value: str(value),
)
def test_agents_are_on_duty_from_seven_to_eleven_shanghai_time(hour, minute, is_open):
    assert clock.is_service_open(shanghai(hour, minute)) is is_open


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        # 07:30 next morning in Shanghai.
        (datetime(2026, 11, 25, 23, 30, tzinfo=timezone.utc), True),
        # 06:30 in Shanghai.
        (datetime(2026, 11, 25, 22, 30, tzinfo=timezone.utc), False),
        # 22:30 in Shanghai.
        (datetime(2026, 11, 25, 14, 30, tzinfo=timezone.utc), True),
        # 23:30 in Shanghai.
        (datetime(2026, 11, 25, 15, 30, tzinfo=timezone.utc), False),
        # 09:00 in New York is 22:00 in Shanghai.
        (datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("America/New_York")), True),
    ],
)
def test_times_in_other_zones_are_converted_to_shanghai(moment, is_open):
    assert clock.is_service_open(moment) is is_open


def test_utc_time_is_reported_in_shanghai_by_now():
    utc = datetime.fromisoformat("2026-11-25T23:30:00+00:00")
    with clock.frozen_at(utc):
        local = clock.now()
    assert (local.date().isoformat(), local.hour, local.minute) == ("2026-11-26", 7, 30)
    assert local.utcoffset() == timedelta(hours=8)
    assert local == utc


def test_frozen_at_pins_now_and_is_service_open():
    with clock.frozen_at(shanghai(2, 30)):
        assert clock.now() == shanghai(2, 30)
        assert clock.is_service_open() is False
    with clock.frozen_at(shanghai(10, 0)):
        assert clock.now() == shanghai(10, 0)
        assert clock.is_service_open() is True


def test_frozen_at_restores_the_real_clock_after_the_block():
    with clock.frozen_at(datetime(2001, 1, 1, 3, 0, tzinfo=SHANGHAI)):
        pass
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_frozen_at_restores_the_real_clock_after_an_error():
    with pytest.raises(RuntimeError):
        with clock.frozen_at(datetime(2001, 1, 1, 3, 0, tzinfo=SHANGHAI)):
            raise RuntimeError("boom")
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_nested_frozen_at_restores_the_outer_time():
    with clock.frozen_at(shanghai(10, 0)):
        with clock.frozen_at(shanghai(2, 0)):
            assert clock.now() == shanghai(2, 0)
        assert clock.now() == shanghai(10, 0)


def test_now_is_in_shanghai_time():
    assert clock.now().utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("pinned", "is_open"),
    [
        ("2026-11-25T02:30:00+08:00", False),
        ("2026-11-25T10:30:00+08:00", True),
        ("2026-11-25T23:30:00+00:00", True),
    ],
)
def test_bot_now_pins_the_clock(monkeypatch, pinned, is_open):
    monkeypatch.setenv("BOT_NOW", pinned)

    assert clock.now() == datetime.fromisoformat(pinned)
    assert clock.now().utcoffset() == timedelta(hours=8)
    assert clock.is_service_open() is is_open


def test_frozen_at_wins_over_bot_now(monkeypatch):
    monkeypatch.setenv("BOT_NOW", "2026-11-25T02:30:00+08:00")
    with clock.frozen_at(shanghai(10, 0)):
        assert clock.is_service_open() is True
    assert clock.is_service_open() is False


def test_bot_now_without_an_offset_is_shanghai_time(monkeypatch):
    """BOT_NOW=2026-11-25T02:30:00 means 02:30 at the service, whatever the host's zone."""
    monkeypatch.setenv("BOT_NOW", "2026-11-25T02:30:00")

    assert (clock.now().hour, clock.now().minute) == (2, 30)
    assert clock.is_service_open() is False
