"""Custom actions served on :5055 (``rasa run actions``)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.services.clarification import clarification_buttons, clarification_question


class ActionAskWhichTopic(Action):
    """First stage of the two-stage fallback: offer the likeliest topics."""

    def name(self) -> str:
        return "action_ask_which_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        ranking = tracker.latest_message.get("intent_ranking", [])
        dispatcher.utter_message(text=clarification_question(), buttons=clarification_buttons(ranking))
        return []
