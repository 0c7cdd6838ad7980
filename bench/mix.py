"""What every benchmark sends and how it reads the times: the message mix, the
servers' environment, one message over the REST channel, and the percentiles.

Shared by bench/latency.py, bench/scale.py (scale_load.py) and the profilers
(bench/profile_turns.py, bench/profile_server.py), so they all measure the same
conversation on the same kind of server.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Dict, List, Tuple

import aiohttp

# A realistic mix that carries the case flows through, so they call the action
# server the way real ones do: the refund gets its order number, the parcel a
# real tracking number, the complaint its story and 「没有订单」, and the
# handoff is followed by a relayed message and 「回到机器人」. 12 of the 20
# messages call the action server; four of them fill a form.
MESSAGES = [
    "你好", "客服电话多少", "我要退款", "261112-405829173664021", "快递到哪了 YD4318827305516",
    "人工客服几点下班", "有人说是拼多多客服让我转账到安全账户", "谢谢", "我要投诉商家卖假货",
    "买的面霜是假的，商家不承认", "没有订单", "我的投诉处理到哪了", "我是商家 货款怎么提现",
    "今天天气怎么样", "转人工", "改地址", "回到机器人", "那个东西", "不是", "拜拜",
]
# Daytime in Shanghai, so handoffs open tickets (off hours they leave a message),
# and no per-sender rate limit: a no-pause conversation would otherwise get
# "slow down" instead of being processed.
SERVER_ENV = {
    "BOT_NOW": "2026-11-25T10:30:00+08:00",
    "RATE_LIMIT_MESSAGES": "1000000",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}


def message(turn: int) -> str:
    """The message of a conversation's ``turn`` (0-based): the mix, over and over."""
    return MESSAGES[turn % len(MESSAGES)]


def webhook(url: str) -> str:
    """The REST channel of the Rasa server at ``url`` (http://host:port)."""
    return f"{url}/webhooks/rest/webhook"


async def send(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> Tuple[List[Dict[str, Any]], float]:
    """One message to the Rasa server at ``url``: its answer, and the milliseconds until the
    answer was read. An HTTP error status raises aiohttp.ClientResponseError."""
    started = time.perf_counter()
    async with session.post(webhook(url), json={"sender": sender, "message": text}) as response:
        response.raise_for_status()
        answer = await response.json(content_type=None)
    return answer, (time.perf_counter() - started) * 1000


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return round(ordered[index], 1)


def describe(latencies: List[float]) -> Dict[str, float]:
    return {
        "messages": len(latencies),
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "mean_ms": round(statistics.fmean(latencies), 1),
    }
