"""At most N messages per sender in a sliding window, kept in this process's memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# Senders idle longer than this are forgotten, so the table cannot grow without bound.
_FORGET_AFTER_WINDOWS = 6
_PRUNE_EVERY = 1000


class RateLimiter:
    """``allow(sender)`` is False once a sender sent ``limit`` messages within ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._calls = 0

    def allow(self, sender: str) -> bool:
        now = self._clock()
        self._prune_now_and_then(now)
        times = self._seen.setdefault(sender, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def _prune_now_and_then(self, now: float) -> None:
        self._calls += 1
        if self._calls % _PRUNE_EVERY:
            return
        horizon = self.window * _FORGET_AFTER_WINDOWS
        for sender in [s for s, times in self._seen.items() if not times or now - times[-1] > horizon]:
            del self._seen[sender]
