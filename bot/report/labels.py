"""Chinese names for what the report shows (the audience is a service manager).

Topics, ticket kinds, ticket states and fraud levels use the labels the bot
itself shows users (topics.yml, cases.yml), so the report and the bot speak
the same words; the rest are report-only labels kept here.
"""

from __future__ import annotations

import functools

from bot import knowledge
from bot.report import conversations as c

# Intents the clarification buttons never offer, so topics.yml has no label.
_OTHER_INTENTS = {
    "greet": "问候",
    "goodbye": "道别",
    "thank": "感谢",
    "affirm": "肯定回答",
    "deny": "否定 / 都不是",
    "bot_challenge": "问是不是机器人",
    "out_of_scope": "超出服务范围",
    "rate": "打分",
    "resume_bot": "回到机器人",
    "inform": "只发了编号",
    "nlu_fallback": "没听懂（NLU 低置信度）",
    c.RELAYED_ONLY: "转人工后的留言",
}

REASONS = {
    c.ASKED_FOR_HUMAN: "用户要求转人工",
    c.NOT_UNDERSTOOD_TWICE: "两次没听懂（NLU 低置信度）",
    c.NONE_OF_THE_TOPICS: "选了「都不是」",
    c.LOW_POLICY_CONFIDENCE: "对话策略低置信度",
    c.PRIORITY_COMPLAINT: "优先处理的投诉",
}


@functools.cache
def intent_labels() -> dict[str, str]:
    topics = knowledge.load("topics")["topics"]
    return {**_OTHER_INTENTS, **topics}


def intent_label(intent: str) -> str:
    return intent_labels().get(intent, intent)


def reason_label(reason: str) -> str:
    return REASONS.get(reason, reason)


def fraud_level_labels() -> dict[str, str]:
    """Level -> label, in the configured order (cases.yml fraud.level_labels)."""
    return dict(knowledge.load("cases")["fraud"]["level_labels"])


def fraud_level_label(level: str) -> str:
    return fraud_level_labels().get(level, "答复中未找到风险等级" if level == c.UNKNOWN_LEVEL else level)


def ticket_kind_labels() -> dict[str, str]:
    return dict(knowledge.load("cases")["tickets"]["kind_labels"])


def ticket_kind_label(kind: str) -> str:
    return ticket_kind_labels().get(kind, kind)


def ticket_status_label(status: str) -> str:
    return knowledge.load("cases")["tickets"]["status_labels"].get(status, status)


def service_hours_text() -> str:
    hours = knowledge.load("facts")["service_hours"]
    return f"{hours['open']}-{hours['close']}"


def in_hours_label() -> str:
    return f"服务时间内（{service_hours_text()}）"


def off_hours_label() -> str:
    return f"非服务时间（{service_hours_text()} 以外）"
