"""The action server's actions, on tracker fixtures, asserting exact output."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAskWhichTopic

QUESTION = "抱歉，我不太确定您想问的是哪方面，是下面哪一个呢？"


def tracker_after(text: str, ranking) -> Tracker:
    return Tracker.from_dict({
        "sender_id": "shopper-1",
        "slots": {},
        "latest_message": {
            "text": text,
            "intent": {"name": "nlu_fallback", "confidence": 0.5},
            "intent_ranking": ranking,
            "entities": [],
        },
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    })


@pytest.mark.asyncio
async def test_unclear_refund_or_parcel_question_offers_those_topics_first():
    dispatcher = CollectingDispatcher()
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "refund", "confidence": 0.41},
        {"name": "greet", "confidence": 0.2},
        {"name": "logistics", "confidence": 0.19},
        {"name": "complaint", "confidence": 0.1},
        {"name": "ticket_status", "confidence": 0.05},
    ]
    events = await ActionAskWhichTopic().run(dispatcher, tracker_after("钱和快递都没到", ranking), {})

    assert events == []
    assert dispatcher.messages == [{
        "text": QUESTION,
        "buttons": [
            {"title": "退款/退货", "payload": "/refund"},
            {"title": "物流/快递", "payload": "/logistics"},
            {"title": "投诉", "payload": "/complaint"},
            {"title": "都不是", "payload": "/deny"},
        ],
        "elements": [], "custom": {}, "template": None, "response": None,
        "image": None, "attachment": None,
    }]


@pytest.mark.asyncio
async def test_without_any_ranking_the_common_topics_are_offered():
    dispatcher = CollectingDispatcher()
    await ActionAskWhichTopic().run(dispatcher, tracker_after("？？", []), {})

    titles = [button["title"] for button in dispatcher.messages[0]["buttons"]]
    assert titles == ["退款/退货", "物流/快递", "投诉", "都不是"]
