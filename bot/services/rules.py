"""The cases' rules of thumb (bot/knowledge/cases.yml), loaded once."""
from __future__ import annotations

import functools
import os
from typing import Any, Dict

import yaml

from bot.facts import KNOWLEDGE_DIR

CASES_FILE = KNOWLEDGE_DIR / "cases.yml"


@functools.lru_cache(maxsize=None)
def case_rules() -> Dict[str, Any]:
    with CASES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def priority_amount_yuan() -> float:
    """The complaint amount above which a complaint is priority (env overrides the file)."""
    configured = os.environ.get("PRIORITY_AMOUNT_YUAN")
    if configured:
        try:
            return float(configured)
        except ValueError:
            pass
    return float(case_rules()["complaint"]["priority_amount_yuan"])
