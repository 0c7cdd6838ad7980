"""The case forms: what they ask (action_ask_*) and how answers are checked (validate_*).

The questions come from bot/knowledge/replies.yml. Two answers a form cannot
use end it (``case_failures``); the case's answer action then has nothing to
report and the user has already been pointed to a person.
"""

from __future__ import annotations

import abc
from typing import Any, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.services import complaints, conversation, fraud
from bot.services.order_lookup import lookup_order, references
from bot.services.replies import reply

MAX_FAILURES = 2
NO_ORDER = "none"
_NO_ORDER_WORDS = ("没有", "无", "没订单", "不是订单", "不涉及")


class _AskAction(Action, abc.ABC):
    """Asks a form's question from replies.yml (``action_ask_<slot>``)."""

    @property
    @abc.abstractmethod
    def reply_name(self) -> str:
        """The reply in replies.yml; the action is named after it."""

    def name(self) -> str:
        return f"action_{self.reply_name}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(**reply(self.reply_name))
        return []


class ActionAskRefundOrder(_AskAction):
    reply_name = "ask_refund_order"


class ActionAskParcelRef(_AskAction):
    reply_name = "ask_parcel_ref"


class ActionAskComplaintText(_AskAction):
    reply_name = "ask_complaint_text"


class ActionAskComplaintOrder(_AskAction):
    """Asks for the order; a priority case first hears that it is handled with priority."""

    reply_name = "ask_complaint_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        # Only on the message that showed it, not again after an unreadable order number.
        latest = [{"parse_data": tracker.latest_message}]
        acknowledgement = complaints.priority_acknowledgement(
            conversation.entity_values(latest, "safety_signal"),
            [complaints.amount_in_yuan(value) for value in conversation.entity_values(latest, "amount")],
        )
        if acknowledgement:
            dispatcher.utter_message(**acknowledgement)
        return await super().run(dispatcher, tracker, domain)


class ActionAskFraudStory(_AskAction):
    reply_name = "ask_fraud_story"


def _failed(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, reply_name: str, **values: Any
) -> dict[str, Any]:
    """One more unusable answer; the second one ends the form with the way to a person."""
    failures = int(tracker.get_slot("case_failures") or 0) + 1
    if failures >= MAX_FAILURES:
        dispatcher.utter_message(**reply("case_gave_up"))
        return {slot: None, "case_failures": failures, "requested_slot": None}
    dispatcher.utter_message(**reply(reply_name, **values))
    return {slot: None, "case_failures": failures}


def _order_slot(
    slot: str, not_found_reply: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    lookup = lookup_order(str(value or ""))
    if lookup.order is not None:
        return {slot: lookup.order.order_id, "case_failures": 0}
    if lookup.reference:
        return _failed(dispatcher, tracker, slot, not_found_reply, order_reference=lookup.reference)
    return _failed(dispatcher, tracker, slot, "order_number_unreadable")


class ValidateRefundForm(FormValidationAction):
    def name(self) -> str:
        return "validate_refund_form"

    def validate_refund_order(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _order_slot("refund_order", "order_not_found", value, dispatcher, tracker)


class ValidateLogisticsForm(FormValidationAction):
    def name(self) -> str:
        return "validate_logistics_form"

    def validate_parcel_ref(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _order_slot("parcel_ref", "parcel_not_found", value, dispatcher, tracker)


class ValidateComplaintForm(FormValidationAction):
    def name(self) -> str:
        return "validate_complaint_form"

    def validate_complaint_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if not complaints.is_too_vague(text):
            return {"complaint_text": text}
        # "我要投诉" opens the form and gets the question; a second vague
        # answer is taken as it is rather than asked about again.
        if tracker.get_slot("requested_slot") == "complaint_text":
            return {"complaint_text": text}
        return {"complaint_text": None}

    def validate_complaint_order(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        found = references(text)
        if text == NO_ORDER or (not found and any(word in text for word in _NO_ORDER_WORDS)):
            return {"complaint_order": NO_ORDER}
        if found:
            lookup = lookup_order(text)
            return {"complaint_order": lookup.order.order_id if lookup.order is not None else found[0]}
        failures = int(tracker.get_slot("case_failures") or 0) + 1
        if failures >= MAX_FAILURES:
            return {"complaint_order": NO_ORDER, "case_failures": 0}
        dispatcher.utter_message(**reply("complaint_order_unreadable"))
        return {"complaint_order": None, "case_failures": failures}


class ValidateFraudForm(FormValidationAction):
    def name(self) -> str:
        return "validate_fraud_form"

    def validate_fraud_story(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        entities = tracker.latest_message.get("entities") or []
        signals = _entity_values(entities, "fraud_signal")
        numbers = _entity_values(entities, "phone_number")
        if tracker.get_slot("fraud_details_asked") or not fraud.is_too_vague(str(value or ""), signals, numbers):
            return {"fraud_story": str(value or "")}
        # Nothing to judge yet: ask once what the caller wanted.
        return {"fraud_story": None, "fraud_details_asked": True}


def _entity_values(entities: list[dict[str, Any]], name: str) -> list[str]:
    return [str(entity.get("value")) for entity in entities if entity.get("entity") == name]


def required_reset() -> dict[str, Optional[Any]]:
    """Slot values that close a case, so the next case starts clean."""
    return {
        "refund_order": None,
        "parcel_ref": None,
        "complaint_text": None,
        "complaint_order": None,
        "fraud_story": None,
        "fraud_details_asked": False,
        "case_failures": 0,
    }
