"""Patch: an event goes to RabbitMQ without a deep copy for a debug line nobody writes.

Replaces: ``rasa.core.brokers.pika.PikaEventBroker._publish``.

Why: before publishing each event, Rasa deep-copies it (with its parse data:
the intent ranking, entities, text) to log a reduced copy at debug level,
also when debug logging is off and the line is dropped. With debug lines off
this publishes the same message (``self._message``: Rasa's body, headers,
app id and persistent delivery) on the same exchange, awaits the same
publisher confirm, and on a failure logs the same error with the reduced
event and keeps the event for re-publishing after the reconnect, as Rasa
does. With debug logging on it is Rasa's own.

Each event stays its own message with its own confirm: consumers read Rasa's
format (one event per message), and the confirm is what tells a lost event
from a delivered one (a refused or failed publish keeps the event in
``_unpublished_events``, re-published when the connection comes back).
Batching events into one message would change the format; publishing without
confirms would lose events silently when the connection drops.

Measured: the deep copy was 3.9% of a loaded Rasa server's samples, more
than everything else the broker did in Rasa's own code (``make profile``, 10
conversations without pauses, production profile); tested to publish the
same messages and keep the same failed events (tests/bot/test_perf_patches.py).
"""

from __future__ import annotations

from typing import Any, Optional

from bot.rasa_compat.debug_lines import debug_written
from bot.rasa_compat.patch import Patch

PIKA_MODULE = "rasa.core.brokers.pika"


async def publish_without_debug_copy(
    self: Any, event: dict[str, Any], headers: Optional[dict[str, str]] = None
) -> None:
    """``PikaEventBroker._publish``; the reduced copy of the event only for a line that is written."""
    if debug_written(PIKA_MODULE):
        await PATCH.original()(self, event, headers)
        return
    if self._exchange is None:
        return
    from rasa.core.brokers.pika import structlogger
    from rasa.shared.core.events import remove_parse_data

    try:
        await self._exchange.publish(self._message(event, headers), "")
    except Exception as error:
        structlogger.error(
            "pika.events.publish.failed",
            event_info="Logging a reduced version of the failed Pika event",
            host=self.host,
            rasa_event=remove_parse_data(event),
        )
        if self.should_keep_unpublished_messages:
            self._unpublished_events.append(event)
        if self.raise_on_failure:
            self.close()
            raise error


PATCH = Patch(
    module=PIKA_MODULE,
    owner="PikaEventBroker",
    attribute="_publish",
    replacement=publish_without_debug_copy,
    upstream_sha256="9f76ab9c1448db882b85b9452dd566bee6c294397d9fe1359989ba98a485176f",
)
