"""Whether a Rasa module's structlog debug line would be written at all.

Not a patch: what the patches that skip building a debug line's arguments
(pika_publish.py, memoization_debug.py) ask first. Rasa configures structlog
(``rasa.utils.log_utils.configure_structlog``) with
``structlog.stdlib.filter_by_level``, which drops a line unless the standard
logger of the module that logs it is enabled for its level. While structlog
is not configured (an in-process agent in a test or a notebook), structlog
writes every line, so the answer is then yes.
"""

from __future__ import annotations

import logging

import structlog


def debug_written(module: str) -> bool:
    """Whether ``structlog.get_logger()``'s ``debug`` lines in ``module`` reach the log."""
    return not structlog.is_configured() or logging.getLogger(module).isEnabledFor(logging.DEBUG)
