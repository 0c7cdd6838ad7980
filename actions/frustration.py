"""The first line to an angry shopper; bot.policies.FrustrationPolicy decides what follows."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.services.frustration import acknowledgement


class ActionAcknowledgeFrustration(Action):
    def name(self) -> str:
        return "action_acknowledge_frustration"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            **acknowledgement(tracker.latest_message, tracker.events, tracker.active_loop.get("name"))
        )
        return []
