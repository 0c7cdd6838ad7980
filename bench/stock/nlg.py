"""Our responses for the stock bot, without our Rasa patches (bench/scale.py).

The stock comparison keeps our NLG so that the domain's responses get their
facts (``{hotline}``, ...) and in-hours wording, exactly as the real bot's.
``bot.nlg.ServiceNaturalLanguageGenerator`` would also switch on our Rasa
patches (bot/rasa_compat: tracker copies, applied events, action calls,
action timeouts, ...) and make the "stock" bot partly ours, so this is
``bot.nlg.FactsNaturalLanguageGenerator``, which changes nothing in Rasa, and
says in the log that no patch is installed in this process.
"""
from __future__ import annotations

import logging
from typing import Optional

from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_compat
from bot.nlg import FactsNaturalLanguageGenerator

logger = logging.getLogger(__name__)


class StockBenchNaturalLanguageGenerator(FactsNaturalLanguageGenerator):
    """Fills fact placeholders and picks in-hours or off-hours variations; no Rasa patches."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, domain: Optional[Domain] = None) -> None:
        super().__init__(endpoint_config, domain)
        logger.info(f"stock bench NLG; our Rasa patches installed in this process: "
                    f"{rasa_compat.installed_names() or 'none'}")
