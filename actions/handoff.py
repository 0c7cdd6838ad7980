"""Handing the conversation to a person, relaying to them, and taking it back.

While ``handoff_ticket`` is set, bot.policies.HandoffPolicy sends every
message to action_relay_to_agent. The agent desk (bot/desk/) gives the
conversation back by clearing the slot through Rasa's HTTP API.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import NO_ORDER, required_reset
from bot.services import conversation, handoff

Events = list[dict[str, Any]]
ORDER_SLOTS = ("refund_order", "parcel_ref", "complaint_order")


class ActionHandoff(Action):
    """A handoff ticket in hours, a leave-a-message ticket off hours; then the bot pauses."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        channel = tracker.get_latest_input_channel()
        message, ticket_number = handoff.open_handoff(
            tracker.sender_id, tracker.events, _order_in_conversation(tracker), channel
        )
        dispatcher.utter_message(**message)
        events = [SlotSet(name, value) for name, value in required_reset().items()]
        if tracker.active_loop.get("name"):
            # A form the user walked away from must not ask again after the handoff.
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        if handoff.to_wechat_agents(channel):
            # WeChat's own agents take the user over (the channel's transfer reply);
            # what still reaches the bot afterwards, it answers.
            dispatcher.utter_message(json_message=handoff.WECHAT_TRANSFER)
            return events
        return events + [SlotSet("handoff_ticket", ticket_number)]


def _order_in_conversation(tracker: Tracker) -> Optional[str]:
    for slot in ORDER_SLOTS:
        value = tracker.get_slot(slot)
        if value and value != NO_ORDER:
            return value
    found = conversation.entity_values(conversation.user_messages(tracker.events), "order_id")
    return found[-1] if found else None


class ActionRelayToAgent(Action):
    """Files the user's message in the handoff ticket; a phone number becomes a callback request."""

    def name(self) -> str:
        return "action_relay_to_agent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        answer = handoff.relay_to_agent(tracker.sender_id, tracker.get_slot("handoff_ticket"), _as_typed(tracker))
        if answer:  # none while an agent answers the user themselves
            dispatcher.utter_message(**answer)
        return []


class ActionResumeBot(Action):
    def name(self) -> str:
        return "action_resume_bot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        number = tracker.get_slot("handoff_ticket")
        dispatcher.utter_message(**handoff.resume_bot(number, _as_typed(tracker)))
        return [SlotSet("handoff_ticket", None)]


def _as_typed(tracker: Tracker) -> str:
    """The user's latest message as stored (masked, punctuation as typed), not the NLU's normalised copy."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("text") or ""
    return tracker.latest_message.get("text") or ""
