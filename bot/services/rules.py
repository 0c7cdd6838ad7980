"""The cases' rules of thumb (bot/knowledge/cases.yml), loaded once."""
from __future__ import annotations

import functools
from typing import Any, Dict

import yaml

from bot.facts import KNOWLEDGE_DIR
from bot.settings import env_number

CASES_FILE = KNOWLEDGE_DIR / "cases.yml"


@functools.lru_cache(maxsize=None)
def case_rules() -> Dict[str, Any]:
    with CASES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def priority_amount_yuan() -> float:
    """The complaint amount above which a complaint is priority (env overrides the file)."""
    from_file = float(case_rules()["complaint"]["priority_amount_yuan"])
    return env_number("PRIORITY_AMOUNT_YUAN", from_file, positive=False)
