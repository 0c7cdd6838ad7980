"""Rasa's REST channel, with the request checked and the message guarded.

Rasa's own channel answers a JSON list, a number as the message or a missing
sender with a 500 or files the message under the shared "default" sender.
This one answers such requests with a 400 that says what is wrong, and passes
every message through bot/channels/guard.py. Same URL and reply format:
``POST /webhooks/rest/webhook`` with ``{"sender": "...", "message": "..."}``.
When a store of the conversations is unreachable the answer is a 503 whose
body is still a list of messages: the outage message (bot/channels/outage.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import shared_guard
from bot.channels.outage import RETRY_AFTER_SECONDS, ConversationNotRecorded, answer_outages_with_503

MAX_SENDER_CHARS = 128


class BadRequest(ValueError):
    """The request is not a message this channel can take; the text says why."""


@dataclass(frozen=True)
class RestMessage:
    sender: str
    text: str
    metadata: Optional[dict[str, Any]]


def parse_rest_message(body: bytes) -> RestMessage:
    """The sender, text and metadata of a REST request body, or BadRequest."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BadRequest("the body is not valid UTF-8") from error
    except ValueError as error:
        raise BadRequest("the body is not valid JSON") from error
    if not isinstance(payload, dict):
        raise BadRequest('the body must be a JSON object: {"sender": "...", "message": "..."}')
    return RestMessage(
        _sender(payload.get("sender")), _text(payload.get("message")), _metadata(payload.get("metadata"))
    )


def _sender(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest('"sender" is required: a string naming the conversation')
    sender = str(value).strip()
    if not sender or len(sender) > MAX_SENDER_CHARS:
        raise BadRequest(f'"sender" must be 1 to {MAX_SENDER_CHARS} characters')
    return sender


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequest('"message" is required and must be a string')
    return value


def _metadata(value: Any) -> Optional[dict[str, Any]]:
    if value is not None and not isinstance(value, dict):
        raise BadRequest('"metadata" must be a JSON object')
    return value


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        guarded = shared_guard().wrap(on_new_message)
        webhook = Blueprint("guarded_rest_webhook", __name__)
        answer_outages_with_503(webhook)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                message = parse_rest_message(request.body or b"")
            except BadRequest as problem:
                return response.json({"error": str(problem)}, status=400)
            collector = CollectingOutputChannel()
            try:
                await guarded(
                    UserMessage(
                        message.text, collector, message.sender, input_channel=self.name(), metadata=message.metadata
                    )
                )
            except ConversationNotRecorded as outage:
                # Only the outage message: answers the bot gave were not kept either.
                return response.json(outage.messages(), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            return response.json(collector.messages)

        return webhook
