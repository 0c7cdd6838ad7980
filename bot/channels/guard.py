"""What every channel does with a message before Rasa sees it.

One place for all channels (REST, socket.io, WeChat), applied by each of our
input channels around Rasa's ``on_new_message``:

- invisible, control and bidi characters are removed; an empty message gets a
  short answer and is not processed;
- a sender over the rate limit gets a polite "slow down" and is not processed,
  without slowing anyone else (counted in the shared state: across every
  instance in the production profile, bot/stores/shared_state.py);
- only the first ``MAX_MESSAGE_CHARS`` characters are read (the user is told):
  an unbounded message would cost the NLU minutes and gigabytes;
- secrets (card numbers, codes, passwords, ID numbers, CVV) are masked before
  the text reaches the NLU, the tracker store, tickets, logs or the event
  broker, and the user is warned not to share them;
- when a store of the conversations is unreachable, the message ends in
  :class:`~bot.channels.outage.ConversationNotRecorded`, which each channel
  turns into the outage message (bot/channels/outage.py).

It also counts each message, each rate-limited one, and the time until the
bot's answer is done (bot/metrics.py), by channel.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Optional

from rasa.core.channels.channel import UserMessage

from bot import metrics
from bot.channels.outage import is_storage_outage, not_recorded
from bot.knowledge.texts import reply_text
from bot.security.secrets import mask_secrets
from bot.settings import env_number
from bot.stores.shared_state import MemorySharedState, SharedState, shared_state
from bot.text import strip_invisible

logger = logging.getLogger(__name__)

Handler = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class GuardSettings:
    max_message_chars: int = 500
    rate_limit_messages: int = 20
    rate_limit_seconds: float = 10.0

    @classmethod
    def from_env(cls) -> GuardSettings:
        return cls(
            max_message_chars=env_number("MAX_MESSAGE_CHARS", cls.max_message_chars, int),
            rate_limit_messages=env_number("RATE_LIMIT_MESSAGES", cls.rate_limit_messages, int),
            rate_limit_seconds=env_number("RATE_LIMIT_SECONDS", cls.rate_limit_seconds, float),
        )


class MessageGuard:
    def __init__(self, settings: GuardSettings, state: Optional[SharedState] = None) -> None:
        self.settings = settings
        self._limiter = (state or MemorySharedState()).rate_limit(
            "rate_limit", settings.rate_limit_messages, settings.rate_limit_seconds
        )

    def wrap(self, on_new_message: Handler) -> Handler:
        async def guarded(message: UserMessage) -> Any:
            return await self.handle(message, on_new_message)

        return guarded

    async def handle(self, message: UserMessage, on_new_message: Handler) -> Any:
        received = time.perf_counter()
        channel = metrics.channel_label(message.input_channel)
        metrics.MESSAGES_RECEIVED.labels(channel).inc()
        text = strip_invisible(str(message.text or "")).strip()
        if not await self._limiter.allow(message.sender_id):
            logger.info("rate limit: message from %s not processed", message.sender_id)
            metrics.MESSAGES_RATE_LIMITED.labels(channel).inc()
            return await _tell(message, "guard_slow_down")
        if not text:
            return await _tell(message, "guard_empty")
        if len(text) > self.settings.max_message_chars:
            text = text[: self.settings.max_message_chars]
            await _tell(message, "guard_truncated", max_chars=self.settings.max_message_chars)
        masked = mask_secrets(text)
        if masked.had_secrets:
            await _tell(message, "guard_secret")
        message.text = masked.text
        try:
            return await on_new_message(message)
        except Exception as error:
            if is_storage_outage(error):
                raise not_recorded(message.sender_id, error) from error
            raise
        finally:
            metrics.REPLY_LATENCY.labels(channel).observe(time.perf_counter() - received)


@functools.cache
def shared_guard() -> MessageGuard:
    """One guard per server process, so the rate limit counts across channels (and instances)."""
    return MessageGuard(GuardSettings.from_env(), shared_state())


async def _tell(message: UserMessage, reply_name: str, **values: Any) -> None:
    if message.output_channel is None:
        return
    await message.output_channel.send_text_message(message.sender_id, reply_text(reply_name, **values))
