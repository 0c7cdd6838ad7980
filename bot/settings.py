"""Numbers operators set through environment variables, read one way everywhere."""
from __future__ import annotations

import logging
import os
from typing import Callable, TypeVar

logger = logging.getLogger(__name__)

Number = TypeVar("Number", int, float)


def env_number(name: str, default: Number, kind: Callable[[str], Number] = float, positive: bool = True) -> Number:
    """``name`` from the environment as a number; ``default`` when unset, unreadable or (if ``positive``) not above 0."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        logger.warning("%s=%r is not a number; using %s", name, raw, default)
        return default
    return value if value > 0 or not positive else default
