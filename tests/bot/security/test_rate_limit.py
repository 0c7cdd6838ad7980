"""The per-sender rate limit."""
from __future__ import annotations

from bot.security.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_more_than_the_limit_within_the_window_is_refused_then_allowed_again():
    clock = Clock()
    limiter = RateLimiter(limit=3, window=10, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    clock.now = 9.9
    assert not limiter.allow("a")
    clock.now = 10.0
    assert limiter.allow("a")


def test_one_sender_flooding_does_not_limit_another():
    limiter = RateLimiter(limit=2, window=10, clock=Clock())
    assert [limiter.allow("flood") for _ in range(5)] == [True, True, False, False, False]
    assert limiter.allow("calm")


def test_refused_messages_do_not_extend_the_wait():
    clock = Clock()
    limiter = RateLimiter(limit=1, window=10, clock=clock)
    limiter.allow("a")
    for second in range(1, 10):
        clock.now = second
        assert not limiter.allow("a")
    clock.now = 10
    assert limiter.allow("a")


def test_idle_senders_are_forgotten():
    clock = Clock()
    limiter = RateLimiter(limit=1, window=1, clock=clock)
    for index in range(999):
        limiter.allow(f"s{index}")
    clock.now = 100
    limiter.allow("late")  # the 1000th call prunes
    assert len(limiter._seen) == 1
