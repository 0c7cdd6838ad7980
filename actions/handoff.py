"""Handing the conversation to a person, relaying to them, and taking it back.

While ``handoff_ticket`` is set, bot.policies.HandoffPolicy sends every
message to action_relay_to_agent. An agent gives the conversation back by
clearing the slot through Rasa's HTTP API (see README, "Human handoff").
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import NO_ORDER, required_reset
from bot import clock
from bot.services import conversation
from bot.services.backends import tickets
from bot.services.clarification import topic_label
from bot.services.handoff import (
    SUMMARY_MESSAGES,
    callback_number,
    handoff_summary,
    looks_like_a_number,
    masked_number,
)
from bot.services.replies import reply
from bot.stores.tickets import TicketKind

Events = List[Dict[Text, Any]]
CASE_INTENTS = ("refund", "logistics", "complaint", "fraud_check", "merchant_support", "ticket_status")
ORDER_SLOTS = ("refund_order", "parcel_ref", "complaint_order")


class ActionHandoff(Action):
    """A handoff ticket in hours, a leave-a-message ticket off hours; then the bot pauses."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        topic = conversation.latest_case_intent(tracker.events, CASE_INTENTS)
        order_id = _order_in_conversation(tracker)
        texts = conversation.user_texts(tracker.events, last=SUMMARY_MESSAGES)
        in_hours = clock.is_service_open()
        ticket = tickets().create(
            TicketKind.HANDOFF if in_hours else TicketKind.MESSAGE,
            tracker.sender_id,
            handoff_summary(topic_label(topic) if topic else None, order_id, texts),
            order_id=order_id,
            details={"intent": topic, "messages": texts},
        )
        dispatcher.utter_message(
            **reply("handoff_open" if in_hours else "handoff_closed", ticket_number=ticket.number, reopen_day=clock.reopen_day())
        )
        events = [SlotSet(name, value) for name, value in required_reset().items()]
        if tracker.active_loop.get("name"):
            # A form the user walked away from must not ask again after the handoff.
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events + [SlotSet("handoff_ticket", ticket.number)]


def _order_in_conversation(tracker: Tracker) -> Optional[Text]:
    for slot in ORDER_SLOTS:
        value = tracker.get_slot(slot)
        if value and value != NO_ORDER:
            return value
    found = conversation.entity_values(conversation.user_messages(tracker.events), "order_id")
    return found[-1] if found else None


class ActionRelayToAgent(Action):
    """Files the user's message in the handoff ticket; a phone number becomes a callback request."""

    def name(self) -> Text:
        return "action_relay_to_agent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        number = tracker.get_slot("handoff_ticket")
        text = tracker.latest_message.get("text") or ""
        tickets().add_message(number, text)
        phone = callback_number(text)
        if phone:
            callback = tickets().create(
                TicketKind.CALLBACK, tracker.sender_id, f"回电请求（转人工工单 {number}）",
                phone=phone, details={"handoff_ticket": number},
            )
            tickets().set_phone(number, phone)
            dispatcher.utter_message(**reply("callback_saved", masked_phone=masked_number(phone), ticket_number=callback.number))
        elif looks_like_a_number(text):
            dispatcher.utter_message(**reply("callback_invalid"))
        else:
            dispatcher.utter_message(**reply("relay_ack", ticket_number=number))
        return []


class ActionResumeBot(Action):
    def name(self) -> Text:
        return "action_resume_bot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        number = tracker.get_slot("handoff_ticket")
        tickets().add_message(number, tracker.latest_message.get("text") or "", author="user")
        dispatcher.utter_message(**reply("resumed", ticket_number=number))
        return [SlotSet("handoff_ticket", None)]
