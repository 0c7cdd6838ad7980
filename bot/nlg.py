"""Response generation with the article's facts and the service clock.

Configured in endpoints.yml (``nlg: type: bot.nlg.ServiceNaturalLanguageGenerator``).
It runs inside the Rasa server, so escalation answers work even when the
action server is down.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import clock, rasa_fixes, resilience  # noqa: F401  (both apply on import)
from bot.facts import response_placeholders

SERVICE_OPEN_SLOT = "service_open"


class ServiceNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    """Fills fact placeholders and picks in-hours or off-hours variations."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        return self.generate_from_slots(
            utter_action, response_values(tracker.current_slot_values()), output_channel, **kwargs
        )


def response_values(slot_values: Dict[Text, Any]) -> Dict[Text, Any]:
    """Facts, then the conversation's slots, then what the clock says now."""
    return {
        **response_placeholders(),
        **slot_values,
        **clock_values(),
    }


def clock_values() -> Dict[Text, Any]:
    """The live service-hours flag and when agents are back."""
    return {SERVICE_OPEN_SLOT: clock.is_service_open(), "reopen_day": clock.reopen_day()}
