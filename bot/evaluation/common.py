"""What the evaluation modules share: the standalone runs' arguments, and Rasa made quiet.

The modules depend in one direction only: common ← nlu ← robustness,
threshold_curve ← benchmark (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional


def standalone_arguments(description: str, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Arguments of the suite's own runs on the `make train` model, Rasa made quiet."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", type=Path, default=Path("models/triage.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu_heldout.yml"))
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--out", type=Path, default=Path("reports/nlu-benchmark"))
    args = parser.parse_args(argv)
    quiet_rasa()  # no per-message debug logs
    return args


def quiet_rasa() -> None:
    """No progress bars or info logs; no training cache, so each training is timed in full."""
    import logging

    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    for name in ("tensorflow", "absl", "jieba", "matplotlib"):
        logging.getLogger(name).setLevel(logging.WARNING)
