"""Waiting at start for a store that cannot be reached yet.

Rasa opens its port only once the agent and its stores exist, so a store that
waits here keeps the instance out of a load balancer's rotation, instead of
starting it on a store that loses what it is given. The store is tried again
after 1, 2, 4 ... seconds, at most ``STORE_RETRY_MAX_SECONDS`` (30) apart, and
each failed try is logged with what is awaited (never a password) and why;
the start continues by itself once the store answers.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional

from bot.settings import env_number

logger = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 1.0
DEFAULT_MAX_DELAY_SECONDS = 30.0


def retry_delays(first: float = FIRST_DELAY_SECONDS, cap: Optional[float] = None) -> Iterator[float]:
    """1, 2, 4 ... seconds, then ``cap`` (``STORE_RETRY_MAX_SECONDS``, default 30) for ever."""
    cap = cap if cap is not None else env_number("STORE_RETRY_MAX_SECONDS", DEFAULT_MAX_DELAY_SECONDS)
    return (min(first * 2**attempt, cap) for attempt in itertools.count())


def wait_until_reachable(
    what: str,
    connect: Callable[[], Any],
    errors: tuple[type[BaseException], ...],
    sleep: Callable[[float], Any] = time.sleep,
    delays: Optional[Iterable[float]] = None,
) -> int:
    """Call ``connect`` until it raises none of ``errors``; how many tries failed.

    ``what`` names the store for the log ("conversation database postgresql
    db.internal:5432/triage"). The wait blocks: it runs while Rasa loads its
    agent, before its port is open, and Ctrl-C or SIGTERM still end it.
    """
    failures = 0
    for delay in delays if delays is not None else retry_delays():
        try:
            connect()
        except errors as error:
            failures += 1
            logger.warning(
                "Waiting for the %s: not reachable (%s). Try %d failed; trying again in %g s.",
                what,
                error_summary(error),
                failures,
                delay,
            )
            sleep(delay)
            continue
        if failures:
            logger.info("The %s is reachable after %d failed tries: starting.", what, failures)
        return failures
    raise RuntimeError(f"gave up waiting for the {what}")


def error_summary(error: BaseException) -> str:
    """The driver's message on one line (SQLAlchemy adds the statement and a link; not needed here)."""
    return " ".join(str(getattr(error, "orig", None) or error).split()) or type(error).__name__
