"""Texts of the knowledge files with the article's facts filled in.

Responses in domain.yml, replies.yml and channel_texts.yml quote facts
(facts.yml) through placeholders such as ``{hotline}``;
:func:`response_placeholders` is the one mapping from the data file to them.
:func:`reply_text` is a reply's text for those who only send text (the
channels); bot.services.replies builds whole messages (text and buttons) with
:func:`fill`.
"""

from __future__ import annotations

import functools
import string
from typing import Any

from bot import knowledge


@functools.cache
def response_placeholders() -> dict[str, str]:
    facts = knowledge.load("facts")
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


def fill(template: str, values: dict[str, Any]) -> str:
    """``template`` with ``values`` filled in; user text in a value is inserted as it is, never read as a template."""
    return string.Formatter().vformat(template, (), values)


def reply_text(name: str, **values: Any) -> str:
    """The text of reply ``name`` (replies.yml): facts first, then ``values``."""
    entry = knowledge.load("replies")[name]
    text = entry if isinstance(entry, str) else entry["text"]
    return fill(text, {**response_placeholders(), **values})


def _drop_leading_zero(clock_time: str) -> str:
    # "07:00" reads as "7:00" in Chinese service notices.
    return clock_time[1:] if clock_time.startswith("0") else clock_time
