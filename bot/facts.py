"""The article's facts (bot/knowledge/facts.yml), loaded once.

Responses in domain.yml quote facts through placeholders such as ``{hotline}``;
:func:`response_placeholders` is the one mapping from the data file to them.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict

import yaml

KNOWLEDGE_DIR = Path(__file__).parent / "knowledge"
FACTS_FILE = KNOWLEDGE_DIR / "facts.yml"


@functools.lru_cache(maxsize=None)
def load_facts() -> Dict[str, Any]:
    with FACTS_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.lru_cache(maxsize=None)
def response_placeholders() -> Dict[str, str]:
    facts = load_facts()
    hours = facts["service_hours"]
    paths = facts["paths"]
    resolution = facts["resolution_time"]
    return {
        "hotline": facts["hotlines"]["shopper"],
        "merchant_hotline": facts["hotlines"]["merchant"],
        "service_hours": f"{_drop_leading_zero(hours['open'])}-{hours['close']}",
        "open_time": _drop_leading_zero(hours["open"]),
        "holiday_note": hours["holiday_note"],
        "night_service": hours["night_service"],
        "peak_hours": "、".join(facts["peak_hours"]),
        "typical_wait": facts["typical_wait"],
        "smart_service_share": facts["smart_service_share"],
        "refund_time": resolution["refund"],
        "dispute_time": resolution["dispute"],
        "urgent_followup": resolution["urgent_followup"],
        "app_path": paths["app"],
        "human_request": paths["human_request"],
        "order_page_path": paths["order_page"],
        "wechat_path": paths["wechat"],
        "merchant_path": paths["merchant"],
        "complaint_path": paths["complaint"],
        "callback": paths["callback"],
        "prepare": facts["prepare"],
        "rating": facts["rating"],
        "police": facts["emergency"]["police"],
        "anti_fraud_hotline": facts["emergency"]["anti_fraud"],
    }


def _drop_leading_zero(clock_time: str) -> str:
    # "07:00" reads as "7:00" in Chinese service notices.
    return clock_time[1:] if clock_time.startswith("0") else clock_time
