"""What each case answers once its form has what it needs.

Thin on purpose: the decisions, the tickets and the words are in bot/services
(bot.services.cases); actions read the tracker, call a service and send what
it returns.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import NO_ORDER, required_reset
from bot.services import cases, tickets
from bot.services.order_lookup import lookup_order
from bot.services.rating import parse_score
from bot.services.replies import reply

Events = list[dict[str, Any]]


def closing_events(case: str, ticket_number: Optional[str] = None) -> Events:
    """Clear the case's slots and remember what the rating question is about."""
    events = [SlotSet(name, value) for name, value in required_reset().items()]
    return events + [SlotSet("last_case", case), SlotSet("last_ticket", ticket_number)]


def ask_rating(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(**reply("ask_rating"))


def say(dispatcher: CollectingDispatcher, answer: cases.Answer) -> None:
    for message in answer.messages:
        dispatcher.utter_message(**message)


class ActionRefundStatus(Action):
    def name(self) -> str:
        return "action_refund_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        lookup = lookup_order(tracker.get_slot("refund_order") or "")
        if lookup.order is None:  # the form gave up and already said what to do
            return closing_events("refund")
        answer = cases.refund_status(tracker.sender_id, lookup.order)
        say(dispatcher, answer)
        ask_rating(dispatcher)
        return closing_events("refund", answer.ticket_number)


class ActionLogisticsStatus(Action):
    def name(self) -> str:
        return "action_logistics_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        lookup = lookup_order(tracker.get_slot("parcel_ref") or "")
        if lookup.order is None:
            return closing_events("logistics")
        answer = cases.logistics_status(tracker.sender_id, lookup.order, tracker.events)
        say(dispatcher, answer)
        ask_rating(dispatcher)
        return closing_events("logistics", answer.ticket_number)


class ActionOpenComplaint(Action):
    def name(self) -> str:
        return "action_open_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        description = tracker.get_slot("complaint_text") or tracker.latest_message.get("text") or ""
        order_id = tracker.get_slot("complaint_order")
        answer = cases.open_complaint(
            tracker.sender_id, description, None if order_id in (None, NO_ORDER) else order_id, tracker.events
        )
        say(dispatcher, answer)
        ask_rating(dispatcher)
        return closing_events("complaint", answer.ticket_number)


class ActionFraudCheck(Action):
    def name(self) -> str:
        return "action_fraud_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        say(dispatcher, cases.fraud_check(tracker.events))
        ask_rating(dispatcher)
        return closing_events("fraud_check")


class ActionTicketStatus(Action):
    def name(self) -> str:
        return "action_ticket_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        dispatcher.utter_message(**tickets.status_reply(tracker.latest_message.get("text") or "", tracker.sender_id))
        return []


class ActionStoreRating(Action):
    def name(self) -> str:
        return "action_store_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        score = parse_score(tracker.get_slot("rating")) or parse_score(tracker.latest_message.get("text"))
        if score is None:
            dispatcher.utter_message(**reply("rating_unreadable"))
            return [SlotSet("rating", None)]
        dispatcher.utter_message(
            **cases.store_rating(
                tracker.sender_id,
                score,
                ticket_number=tracker.get_slot("last_ticket"),
                case=tracker.get_slot("last_case"),
            )
        )
        return [SlotSet("rating", score), SlotSet("last_case", None), SlotSet("last_ticket", None)]
