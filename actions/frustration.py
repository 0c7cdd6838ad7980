"""The first line to an angry shopper; bot.policies.FrustrationPolicy decides what follows."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.services.frustration import acknowledgement


class ActionAcknowledgeFrustration(Action):
    def name(self) -> Text:
        return "action_acknowledge_frustration"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(**acknowledgement(tracker.latest_message, tracker.events, tracker.active_loop.get("name")))
        return []
