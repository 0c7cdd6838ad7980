"""bot/stores/waiting.py: a store not reachable at start is waited for, with backoff, and the wait is logged."""
from __future__ import annotations

import itertools
import logging

import pytest

from bot.stores.waiting import retry_delays, wait_until_reachable


class Unreachable(Exception):
    pass


class FlakyStore:
    """Refuses ``failures`` connections, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.tries = 0

    def connect(self) -> None:
        self.tries += 1
        if self.tries <= self.failures:
            raise Unreachable("Connection refused")


def test_tries_again_after_1_2_4_seconds_up_to_30_seconds_apart():
    assert list(itertools.islice(retry_delays(), 8)) == [1, 2, 4, 8, 16, 30, 30, 30]


def test_the_longest_wait_between_tries_is_an_operator_setting(monkeypatch):
    monkeypatch.setenv("STORE_RETRY_MAX_SECONDS", "5")
    assert list(itertools.islice(retry_delays(), 5)) == [1, 2, 4, 5, 5]


def test_each_failed_try_is_logged_with_what_is_awaited_and_why_until_the_store_answers(caplog):
    store, slept = FlakyStore(failures=3), []
    with caplog.at_level(logging.INFO, logger="bot.stores.waiting"):
        failed = wait_until_reachable("conversation database postgresql db:5432/triage", store.connect,
                                      (Unreachable,), sleep=slept.append)
    assert failed == 3 and store.tries == 4 and slept == [1, 2, 4]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all("Waiting for the conversation database postgresql db:5432/triage" in line
               and "Connection refused" in line for line in warnings)
    assert "trying again in 4 s" in warnings[-1]
    assert "reachable after 3 failed tries" in caplog.records[-1].getMessage()


def test_a_store_that_answers_at_once_is_not_waited_for(caplog):
    slept = []
    with caplog.at_level(logging.INFO, logger="bot.stores.waiting"):
        assert wait_until_reachable("lock store", FlakyStore(0).connect, (Unreachable,), sleep=slept.append) == 0
    assert slept == [] and caplog.records == []


def test_an_error_that_is_not_about_reaching_the_store_is_raised_at_once():
    def broken() -> None:
        raise ValueError("bad setting")

    with pytest.raises(ValueError, match="bad setting"):
        wait_until_reachable("lock store", broken, (Unreachable,), sleep=lambda _: pytest.fail("waited"))
