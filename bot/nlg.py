"""Response generation with the article's facts and the service clock; where Rasa patches are switched on.

Configured in endpoints.yml and endpoints.production.yml
(``nlg: type: bot.nlg.ServiceNaturalLanguageGenerator``). It runs inside the
Rasa server, so escalation answers work even when the action server is down.

**This is where our Rasa patches (bot/rasa_compat) are switched on**:
``ServiceNaturalLanguageGenerator.__init__`` calls ``bot.rasa_compat.install()``.
Rasa builds the NLG named in the endpoints file in ``Agent.__init__``, before
it loads the model or handles a message, in every process that serves the bot
(``make run``, ``make cluster``, plain ``rasa run``, ``rasa shell``,
``rasa interactive``) and in the tests' in-process agents. An endpoints file
that names another NLG gets no patches; one that wants our responses without
them (the stock benchmark, bench/stock/) names :class:`FactsNaturalLanguageGenerator`.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import clock, rasa_compat
from bot.knowledge.texts import response_placeholders

SERVICE_OPEN_SLOT = "service_open"


class FactsNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    """Fills fact placeholders and picks in-hours or off-hours variations (changes nothing in Rasa)."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> Optional[dict[str, Any]]:
        return self.generate_from_slots(
            utter_action, response_values(tracker.current_slot_values()), output_channel, **kwargs
        )


class ServiceNaturalLanguageGenerator(FactsNaturalLanguageGenerator):
    """The bot's NLG: :class:`FactsNaturalLanguageGenerator`, with our Rasa patches installed first."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
    ) -> None:
        # The one place the patches are switched on (see the module docstring).
        rasa_compat.install()
        super().__init__(endpoint_config, domain)


def response_values(slot_values: dict[str, Any]) -> dict[str, Any]:
    """Facts, then the conversation's slots, then what the clock says now."""
    return {
        **response_placeholders(),
        **slot_values,
        **clock_values(),
    }


def clock_values() -> dict[str, Any]:
    """The live service-hours flag and when agents are back."""
    return {SERVICE_OPEN_SLOT: clock.is_service_open(), "reopen_day": clock.reopen_day()}
