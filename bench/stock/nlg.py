"""Our responses for the stock bot, without our Rasa fixes (bench/scale.py).

The stock comparison keeps our NLG so that the domain's responses get their
facts (``{hotline}``, ...) and in-hours wording, exactly as
``bot.nlg.ServiceNaturalLanguageGenerator`` fills them. That module also
applies ``bot.rasa_fixes`` and ``bot.resilience`` on import, which change
Rasa's own internals (tracker copies, applied events, action-response
validation, action timeouts): loading it would make the "stock" bot partly
ours. So this is the same few lines, importing only the facts and the clock.
"""
from __future__ import annotations

import logging
import sys
from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import clock
from bot.facts import response_placeholders

logger = logging.getLogger(__name__)


class StockBenchNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    """Fills fact placeholders and picks in-hours or off-hours variations."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)
        ours = sorted(name for name in sys.modules if name in ("bot.rasa_fixes", "bot.resilience", "bot.nlg"))
        logger.info(f"stock bench NLG; our Rasa patches loaded in this process: {ours or 'none'}")

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        values: Dict[Text, Any] = {
            **response_placeholders(),
            **tracker.current_slot_values(),
            "service_open": clock.is_service_open(),
            "reopen_day": clock.reopen_day(),
        }
        return self.generate_from_slots(utter_action, values, output_channel, **kwargs)
