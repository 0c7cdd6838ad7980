"""What each case answers once its form has what it needs.

Thin on purpose: the decisions are in bot/services, the words in
bot/knowledge/replies.yml, the data in bot/stores.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import NO_ORDER, required_reset
from bot import clock
from bot.services import complaints, conversation, fraud, logistics, refunds
from bot.services.backends import orders, tickets
from bot.services.order_lookup import find_order
from bot.services.rating import is_low, parse_score
from bot.services.replies import reply
from bot.services.tickets_view import listed_tickets, ticket_list, ticket_values
from bot.stores.orders import Order
from bot.stores.tickets import TicketKind, TicketStatus, parse_ticket_number

Events = List[Dict[Text, Any]]


def closing_events(case: Text, ticket_number: Optional[Text] = None) -> Events:
    """Clear the case's slots and remember what the rating question is about."""
    events = [SlotSet(name, value) for name, value in required_reset().items()]
    return events + [SlotSet("last_case", case), SlotSet("last_ticket", ticket_number)]


def ask_rating(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(**reply("ask_rating"))


def order_values(order: Order) -> Dict[Text, Any]:
    return {
        "order_id": order.order_id,
        "order_item": order.item,
        "order_amount": f"{order.amount:.2f}",
        "order_status": logistics.status_label(order.status),
        "refund_state": refunds.refund_state_label(order.refund_state),
        "refund_amount": f"{(order.refund_amount or order.amount):.2f}",
        "carrier": order.carrier or "",
        "tracking_number": order.tracking_number or "",
    }


def open_ticket_once(kind: Text, sender_id: Text, order_id: Optional[Text], summary: Text, **extra: Any):
    """The sender's open ticket of this kind for this order, or a new one: asking twice is not two cases."""
    for ticket in tickets().for_sender(sender_id, limit=20):
        if ticket.kind == kind and ticket.order_id == order_id and ticket.status in (TicketStatus.OPEN, TicketStatus.IN_PROGRESS):
            return ticket
    return tickets().create(kind, sender_id, summary, order_id=order_id, **extra)


class ActionRefundStatus(Action):
    def name(self) -> Text:
        return "action_refund_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        lookup = find_order(orders(), tracker.get_slot("refund_order") or "")
        if not lookup.found:  # the form gave up and already said what to do
            return closing_events("refund")
        order = lookup.order
        ticket_number = None
        if refunds.is_dispute(order):
            ticket = open_ticket_once(
                TicketKind.DISPUTE, tracker.sender_id, order.order_id,
                f"退款纠纷：{order.item}（{refunds.refund_state_label(order.refund_state)}）",
            )
            ticket_number = ticket.number
        dispatcher.utter_message(**reply(refunds.refund_response(order), ticket_number=ticket_number, **order_values(order)))
        ask_rating(dispatcher)
        return closing_events("refund", ticket_number)


class ActionLogisticsStatus(Action):
    def name(self) -> Text:
        return "action_logistics_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        lookup = find_order(orders(), tracker.get_slot("parcel_ref") or "")
        if not lookup.found:
            return closing_events("logistics")
        order = lookup.order
        dispatcher.utter_message(**reply(_status_reply(order), tracking_events=logistics.latest_events_text(order), **order_values(order)))
        ticket_number = self._ticket_for_problem(dispatcher, tracker, order)
        ask_rating(dispatcher)
        return closing_events("logistics", ticket_number)

    @staticmethod
    def _ticket_for_problem(dispatcher: CollectingDispatcher, tracker: Tracker, order: Order) -> Optional[Text]:
        messages = conversation.messages_since_intent(tracker.events, ["logistics"])
        texts = [message.get("text") or "" for message in messages]
        problem = logistics.parcel_problem(order, texts, clock.now())
        if problem is None:
            return None
        summary = f"{'物流长时间未更新' if problem == logistics.STALE else '显示签收但未收到'}：{order.item}，{order.carrier or ''} {order.tracking_number or ''}"
        ticket = open_ticket_once(TicketKind.LOGISTICS, tracker.sender_id, order.order_id, summary.strip(), details={"problem": problem})
        name = "logistics_stale_ticket" if problem == logistics.STALE else "logistics_not_received_ticket"
        dispatcher.utter_message(**reply(name, ticket_number=ticket.number, stale_hours=logistics.stale_after_hours()))
        return ticket.number


def _status_reply(order: Order) -> Text:
    if order.status == "cancelled":
        return "logistics_cancelled"
    return "logistics_status" if order.events else "logistics_pending"


class ActionOpenComplaint(Action):
    def name(self) -> Text:
        return "action_open_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        description = tracker.get_slot("complaint_text") or tracker.latest_message.get("text") or ""
        order_id = tracker.get_slot("complaint_order")
        order = orders().get(order_id) if order_id and order_id != NO_ORDER else None
        messages = conversation.messages_since_intent(tracker.events, ["complaint"])
        priority = complaints.is_priority(
            conversation.entity_values(messages, "safety_signal"),
            [complaints.amount_in_yuan(value) for value in conversation.entity_values(messages, "amount")]
            + [order.amount if order else None],
        )
        ticket = tickets().create(
            TicketKind.COMPLAINT, tracker.sender_id, description,
            order_id=None if order_id in (None, NO_ORDER) else order_id, priority=priority,
            details={"messages": [message.get("text") for message in messages]},
        )
        dispatcher.utter_message(**reply("complaint_priority" if priority else "complaint_normal", ticket_number=ticket.number))
        ask_rating(dispatcher)
        return closing_events("complaint", ticket.number)


class ActionFraudCheck(Action):
    def name(self) -> Text:
        return "action_fraud_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        messages = conversation.messages_since_intent(tracker.events, ["fraud_check"])
        assessment = fraud.assess(
            conversation.entity_values(messages, "fraud_signal"),
            conversation.entity_values(messages, "phone_number"),
            conversation.joined_text(messages),
        )
        for name, values in fraud_replies(assessment):
            dispatcher.utter_message(**reply(name, **values))
        ask_rating(dispatcher)
        return closing_events("fraud_check")


def fraud_replies(assessment: fraud.FraudAssessment) -> List[tuple]:
    """The messages of a fraud check, most urgent first."""
    messages: List[tuple] = []
    if assessment.money_lost:
        messages.append(("fraud_money_lost", {}))
    messages.append((f"fraud_{assessment.level}", {"risk_level": assessment.label, "fraud_signals": "、".join(assessment.signals)}))
    if assessment.official_numbers:
        messages.append(("fraud_official_number", {"phone_numbers": "、".join(assessment.official_numbers)}))
    if assessment.other_numbers:
        messages.append(("fraud_other_number", {"phone_numbers": "、".join(assessment.other_numbers)}))
    if assessment.level != fraud.LOW:
        messages.append(("fraud_next_steps", {}))
    return messages


class ActionTicketStatus(Action):
    def name(self) -> Text:
        return "action_ticket_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        number = parse_ticket_number(tracker.latest_message.get("text") or "")
        if number:
            ticket = tickets().get(number)
            if ticket is None:
                dispatcher.utter_message(**reply("ticket_not_found", ticket_number=number, ticket_number_example=_example_number()))
            else:
                dispatcher.utter_message(**reply("ticket_found", **ticket_values(ticket)))
            return []
        mine = tickets().for_sender(tracker.sender_id, limit=listed_tickets())
        if mine:
            dispatcher.utter_message(**reply("my_tickets", ticket_list=ticket_list(mine)))
        else:
            dispatcher.utter_message(**reply("no_tickets"))
        return []


def _example_number() -> Text:
    return f"T{clock.now():%Y%m%d}-0001"


class ActionStoreRating(Action):
    def name(self) -> Text:
        return "action_store_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> Events:
        score = parse_score(tracker.get_slot("rating")) or parse_score(tracker.latest_message.get("text"))
        if score is None:
            dispatcher.utter_message(**reply("rating_unreadable"))
            return [SlotSet("rating", None)]
        tickets().add_rating(
            tracker.sender_id, score,
            ticket_number=tracker.get_slot("last_ticket"), case=tracker.get_slot("last_case"),
        )
        dispatcher.utter_message(**reply("rating_low" if is_low(score) else "rating_thanks"))
        return [SlotSet("rating", score), SlotSet("last_case", None), SlotSet("last_ticket", None)]
