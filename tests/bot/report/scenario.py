"""Known conversations for the report tests, and how they are written to the stores.

The tracker events are written by Rasa's own SQLTrackerStore (the table the
bot's CachingSQLTrackerStore writes), with the timestamps set; tickets and
ratings through TicketStore. Every figure of the scenario is worked out by
hand in the tests.

Shanghai time, 2026-11-25 unless said otherwise:

| sender | session | messages (intent) | what happens | expected |
|---|---|---|---|---|
| alice | 10:00 | greet, ask_hotline | answered | contained |
| bob | 10:30 | request_human, then one relayed message | utter_escalate +1 s, handoff ticket (open), callback ticket (in progress) | asked for human |
| carol | 14:00 | nlu_fallback, nlu_fallback | ask which topic, utter_default +60 s | not understood twice |
| dave | 23:30 | nlu_fallback, deny | ask which topic, utter_default +30 s | none of the topics, off hours |
| erin | 15:00 | fraud_check | fraud check: high; rating 5 | contained |
| erin | 17:00 (2nd session) | fraud_check | fraud check: low | contained |
| frank | 16:00 | complaint, inform | priority complaint ticket +120 s (open); rating 2 | priority complaint |
| grace | 11:00 | refund, inform | dispute ticket, resolved; rating 4 | contained |
| heidi | 12:00 | logistics, thank | action_default_fallback +300 s | low policy confidence |
| ivan | 2026-11-24 09:00 | ask_service_hours | answered | contained |
| judy | 02:00 | request_human | utter_escalate +5 s, message ticket (open) | asked for human, off hours |
| kim | 20:00 | none | session only | not a conversation |

Frustrated conversations (``frustration_events``, a store of their own so the
figures above stay as they are), 2026-11-25; (!cue) marks a message the NLU
tagged with a frustration entity:

| sender | session | messages (intent) | what happens | expected |
|---|---|---|---|---|
| mia | 10:00 | request_human (!insult) | utter_escalate, action_handoff | frustrated, 1 turn to a person |
| noah | 11:00 | greet, logistics (!impatience), inform, request_human (!threat) | utter_escalate after the 4th | frustrated, 3 turns |
| olivia | 12:00 | ask_hotline (!exasperation), thank | answered | frustrated, no person reached |
| peter | 13:00 | request_human (text "frustration", no entity) | utter_escalate | calm, escalated |
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker

from bot import knowledge
from bot.services.replies import reply
from bot.stores.tickets import TicketKind, TicketStatus, TicketStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
SLOTS = [TextSlot("handoff_ticket", mappings=[{"type": "custom"}], influence_conversation=False)]


def at(hour: int, minute: int = 0, second: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def session(moment: datetime) -> List[Event]:
    return [ActionExecuted("action_session_start", timestamp=_ts(moment)), SessionStarted(timestamp=_ts(moment)),
            ActionExecuted("action_listen", timestamp=_ts(moment))]


def user(intent: str, moment: datetime, text: str = "", frustration: Optional[str] = None) -> List[Event]:
    """A user message; ``frustration`` is the cue of the NLU's frustration entity, if any."""
    text = text or intent
    entities = [frustration_entity(frustration, text)] if frustration else []
    return [UserUttered(text, {"name": intent, "confidence": 0.9}, entities, timestamp=_ts(moment))]


def frustration_entity(cue: str, text: str) -> Dict[str, Any]:
    return {"entity": "frustration", "value": cue, "start": 0, "end": len(text), "extractor": "FrustrationDetector"}


def step(name: str, moment: datetime, *texts: str) -> List[Event]:
    """An action and the messages it sends."""
    return [ActionExecuted(name, timestamp=_ts(moment))] + [BotUttered(text, timestamp=_ts(moment)) for text in texts]


def action(name: str, moment: datetime, *texts: str) -> List[Event]:
    """An action, its messages, then the bot listens."""
    return step(name, moment, *texts) + [ActionExecuted("action_listen", timestamp=_ts(moment))]


def handoff_slot(value, moment: datetime) -> List[Event]:
    return [SlotSet("handoff_ticket", value, timestamp=_ts(moment))]


def fraud_answer(level: str) -> str:
    label = knowledge.load("cases")["fraud"]["level_labels"][level]
    return reply(f"fraud_{level}", risk_level=label, fraud_signals="验证码")["text"]


def scenario_events() -> Dict[str, List[Event]]:
    return {
        "alice": session(at(10)) + user("greet", at(10)) + action("utter_greet", at(10, 0, 1), "您好")
        + user("ask_hotline", at(10, 0, 10)) + action("utter_hotline", at(10, 0, 11), "热线"),
        "bob": session(at(10, 30)) + user("request_human", at(10, 30))
        + step("utter_escalate", at(10, 30, 1), "人工") + step("action_handoff", at(10, 30, 2), "工单")
        + handoff_slot("T20261125-0001", at(10, 30, 2)) + action("action_listen", at(10, 30, 2))
        + user("nlu_fallback", at(10, 31), "我的订单一直没发货")
        + action("action_relay_to_agent", at(10, 31, 1), "已记录"),
        "carol": session(at(14)) + user("nlu_fallback", at(14))
        + action("action_ask_which_topic", at(14, 0, 1), "哪一个")
        + user("nlu_fallback", at(14, 0, 50)) + action("utter_default", at(14, 1), "人工"),
        "dave": session(at(23, 30)) + user("nlu_fallback", at(23, 30))
        + action("action_ask_which_topic", at(23, 30, 1), "哪一个")
        + user("deny", at(23, 30, 20), "都不是") + action("utter_default", at(23, 30, 30), "人工"),
        "erin": session(at(15)) + user("fraud_check", at(15), "有人让我开屏幕共享")
        + action("fraud_form", at(15, 0, 1))
        + action("action_fraud_check", at(15, 0, 2), reply("fraud_money_lost")["text"], fraud_answer("high"), "打个分")
        + session(at(17)) + user("fraud_check", at(17), "接到一个电话")
        + action("action_fraud_check", at(17, 0, 2), fraud_answer("low"), "打个分"),
        "frank": session(at(16)) + user("complaint", at(16)) + action("complaint_form", at(16, 0, 1), "哪笔订单")
        + user("inform", at(16, 1)) + action("action_open_complaint", at(16, 2), "已提交投诉"),
        "grace": session(at(11)) + user("refund", at(11)) + action("refund_form", at(11, 0, 1), "订单编号")
        + user("inform", at(11, 0, 20)) + action("action_refund_status", at(11, 0, 30), "纠纷工单"),
        "heidi": session(at(12)) + user("logistics", at(12)) + action("logistics_form", at(12, 0, 1), "单号")
        + user("thank", at(12, 4, 50)) + action("action_default_fallback", at(12, 5), "人工"),
        "ivan": session(at(9, day=24)) + user("ask_service_hours", at(9, day=24))
        + action("utter_service_hours", at(9, 0, 1, day=24), "时间"),
        "judy": session(at(2)) + user("request_human", at(2))
        + step("utter_escalate", at(2, 0, 5), "下班了") + step("action_handoff", at(2, 0, 6), "留言工单")
        + handoff_slot("T20261125-0002", at(2, 0, 6)) + action("action_listen", at(2, 0, 6)),
        "kim": session(at(20)),
    }


def frustration_events() -> Dict[str, List[Event]]:
    return {
        "mia": session(at(10)) + user("request_human", at(10), "你们这破机器人，给我转人工", frustration="insult")
        + step("utter_escalate", at(10, 0, 1), "人工") + step("action_handoff", at(10, 0, 2), "工单")
        + handoff_slot("T20261125-0001", at(10, 0, 2)) + action("action_listen", at(10, 0, 2)),
        "noah": session(at(11)) + user("greet", at(11)) + action("utter_greet", at(11, 0, 1), "您好")
        + user("logistics", at(11, 1), "快递怎么还没到，快点", frustration="impatience")
        + action("logistics_form", at(11, 1, 1), "单号")
        + user("inform", at(11, 2), "1234567890") + action("action_logistics_status", at(11, 2, 1), "运输中")
        + user("request_human", at(11, 3), "再不解决我就投诉你们", frustration="threat")
        + step("utter_escalate", at(11, 3, 1), "人工") + step("action_handoff", at(11, 3, 2), "工单")
        + handoff_slot("T20261125-0002", at(11, 3, 2)) + action("action_listen", at(11, 3, 2)),
        "olivia": session(at(12)) + user("ask_hotline", at(12), "唉，到底怎么联系你们", frustration="exasperation")
        + action("utter_hotline", at(12, 0, 1), "热线")
        + user("thank", at(12, 1)) + action("utter_you_are_welcome", at(12, 1, 1), "不客气"),
        # The word is in the stored text, but no entity: calm.
        "peter": session(at(13)) + user("request_human", at(13), "frustration")
        + step("utter_escalate", at(13, 0, 1), "人工") + action("action_handoff", at(13, 0, 2), "工单"),
    }


def write_tickets_and_ratings(store: TicketStore) -> None:
    store.create(TicketKind.HANDOFF, "bob", "转人工", now=at(10, 30, 2))
    callback = store.create(TicketKind.CALLBACK, "bob", "回电", phone="13812345678", now=at(10, 31, 1))
    store.set_status(callback.number, TicketStatus.IN_PROGRESS)
    store.create(TicketKind.MESSAGE, "judy", "留言", now=at(2, 0, 6))
    store.create(TicketKind.COMPLAINT, "frank", "吃了拉肚子", priority=True, now=at(16, 2))
    dispute = store.create(TicketKind.DISPUTE, "grace", "退款被拒", now=at(11, 0, 30))
    store.set_status(dispute.number, TicketStatus.RESOLVED)
    store.add_rating("erin", 5, case="fraud_check", now=at(15, 1))
    store.add_rating("frank", 2, case="complaint", now=at(16, 3))
    store.add_rating("grace", 4, case="refund", now=at(11, 1))


def write_trackers(tracker_store: SQLTrackerStore, conversations: Optional[Dict[str, List[Event]]] = None) -> None:
    """The scenario's conversations (default) or ``conversations``, saved by Rasa's tracker store."""
    async def save_all() -> None:
        for sender, events in (scenario_events() if conversations is None else conversations).items():
            await tracker_store.save(DialogueStateTracker.from_events(sender, events, slots=SLOTS))

    asyncio.run(save_all())
