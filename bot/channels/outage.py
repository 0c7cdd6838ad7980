"""When a store of the conversations cannot be reached: what users and the HTTP API get.

The conversation database (tracker store) or the lock store (Redis) can go
away while Rasa runs. Rasa's own answer, carrying on in memory, is switched
off (bot/rasa_compat/tracker_store_errors.py), so the store's error reaches
the channel, and every channel tells the user so: sorry, the message may not
have been recorded, call the hotline (replies.yml ``storage_outage``).

- REST: status 503, the body the usual list of messages (widgets show it);
- socket.io: a ``bot_uttered`` message, also after answers already shown
  (they are sent before the conversation is saved: the user learns they may
  not have been kept);
- WeChat: the passive reply.

Rasa's HTTP API (``/conversations/...``) answers 503 with a JSON error instead
of a 500: :func:`answer_outages_with_503` adds app-wide Sanic error handlers
when the server starts. Nothing here retries or remembers: the next message
asks the stores again, so service resumes by itself once they are back.
"""

from __future__ import annotations

import logging
from typing import Any

import rasa
import redis.exceptions
import sqlalchemy.exc
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.knowledge.texts import reply_text

logger = logging.getLogger(__name__)

STORAGE_OUTAGE_REPLY = "storage_outage"
# Seconds a client is asked to wait before trying again (the 503's Retry-After).
RETRY_AFTER_SECONDS = 10
# A store that cannot be reached, as its driver says it: no connection, a
# connection lost, a timeout (not a bug, nor bad data).
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class ConversationNotRecorded(Exception):
    """A message may not have been stored, a store being unreachable; ``reply`` is what the user is told."""

    def __init__(self, sender_id: str, reply: str) -> None:
        super().__init__(f"message from {sender_id} may not have been recorded: a store is unreachable")
        self.sender_id = sender_id
        self.reply = reply

    def messages(self) -> list[dict[str, Any]]:
        """The reply as the REST channel's list of bot messages."""
        return [{"recipient_id": self.sender_id, "text": self.reply}]


def is_storage_outage(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from or while handling, is a store being unreachable."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OUTAGE_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def not_recorded(sender_id: str, error: BaseException) -> ConversationNotRecorded:
    """The outage for ``sender_id``, logged once with the store's error."""
    logger.error(
        "A store is unreachable: the message from %s may not have been recorded (%s).", sender_id, _one_line(error)
    )
    return ConversationNotRecorded(sender_id, reply_text(STORAGE_OUTAGE_REPLY))


def _one_line(error: BaseException) -> str:
    # The driver's message, without SQLAlchemy's statement and link, on one log line.
    return " ".join(str(getattr(error, "orig", None) or error).split())


def answer_outages_with_503(blueprint: Blueprint) -> None:
    """Have the app that registers ``blueprint`` answer store outages with 503 (once per app)."""
    blueprint.listener("before_server_start")(_add_error_handlers)


async def _add_error_handlers(app: Sanic, _loop: Any) -> None:
    # Rasa's HTTP API raises the store's error itself, or an ErrorResponse 500
    # raised while handling it; both handlers exist by now (Rasa's for
    # ErrorResponse is replaced, and kept for every other error).
    from rasa.server import ErrorResponse

    if getattr(app.ctx, "answers_outages_with_503", False):
        return
    app.ctx.answers_outages_with_503 = True
    for error in OUTAGE_ERRORS:
        app.error_handler.add(error, _store_unavailable)
    app.error_handler.add(ErrorResponse, _rasa_error_or_store_unavailable)


async def _store_unavailable(request: Request, error: Exception) -> HTTPResponse:
    logger.error("%s %s: a store is unreachable (%s); answered 503.", request.method, request.path, _one_line(error))
    return unavailable_response()


async def _rasa_error_or_store_unavailable(request: Request, error: Any) -> HTTPResponse:
    if is_storage_outage(error):
        return unavailable_response()
    return response.json(error.error_info, status=error.status)  # what Rasa's own handler answers


def unavailable_response() -> HTTPResponse:
    """503 in the shape of Rasa's HTTP API errors."""
    body = {
        "version": rasa.__version__,
        "status": "failure",
        "message": "The conversation store cannot be reached right now. Try again shortly.",
        "reason": "StoreUnavailable",
        "details": {},
        "help": None,
        "code": 503,
    }
    return response.json(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
