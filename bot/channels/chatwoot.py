"""Chatwoot agent-bot connector: ``/webhooks/chatwoot/webhook?token=...``.

For shops whose agents already work in Chatwoot. Chatwoot posts the events of
the inboxes the agent bot is connected to (``message_created``,
``message_updated``, ...; payloads as in Chatwoot's webhook documentation) to
the bot's outgoing URL; the bot answers through Chatwoot's API
(bot/channels/chatwoot_api.py). A conversation's status says who has it:

- ``pending``: the bot's. Incoming messages are answered.
- ``open`` (or any other status): a person's. The bot stays silent, whatever
  the user writes.

When the bot hands off (the handoff ticket is set in the tracker after a
message), the connector sets the conversation to ``open``; Chatwoot's agents
take it from there. When an agent sets it back to ``pending`` the next
message gives the conversation back to the bot (``/resume_bot``, so the bot
says it is back) before the bot answers it. Chatwoot does not send agent bots
an event for the change itself.

Configured in credentials.yml as ``bot.channels.chatwoot.ChatwootInput`` with
``url`` (Chatwoot's address), ``bot_token`` (the agent bot's access token) and
``webhook_token`` (a secret of ours, in the outgoing URL given to Chatwoot:
agent-bot webhooks carry no signature). Each can name its environment
variable (``url_env: CHATWOOT_URL``); without all three the channel answers
every request 503. Tested only against a local stand-in that follows
Chatwoot's documented payloads, never a real Chatwoot.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.chatwoot_api import OPEN, ChatwootAPI, message_body
from bot.channels.guard import shared_guard
from bot.channels.outage import ConversationNotRecorded

logger = logging.getLogger(__name__)

NOT_CONFIGURED = "Chatwoot connector not configured: set CHATWOOT_URL, CHATWOOT_BOT_TOKEN and CHATWOOT_WEBHOOK_TOKEN."
# The status of a conversation the bot answers; any other is a person's.
BOT_STATUS = "pending"
# The slot that holds the handoff ticket while a person has the conversation (domain.yml).
HANDOFF_SLOT = "handoff_ticket"
RESUME_PAYLOAD = "/resume_bot"
MAX_BODY_BYTES = 256 * 1024
SHOWN_AS = "shown_as"


class MalformedEvent(ValueError):
    """Not a Chatwoot event this connector can read."""


@dataclass(frozen=True)
class Incoming:
    """A user's message in a Chatwoot conversation, reduced to what the connector acts on."""

    account: str
    conversation: str
    status: str
    text: str
    message_id: str
    shown_as: Optional[str] = None

    @property
    def sender_id(self) -> str:
        return f"chatwoot-{self.account}-{self.conversation}"


def read_event(body: bytes) -> Optional[Incoming]:
    """The user's message in a webhook body; None for events the bot does not answer.

    ``message_created`` of an incoming, public message: its text.
    ``message_updated`` with a choice submitted on the bot's options: the
    choice's value (a button payload), shown as its title.
    """
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedEvent("the body is not JSON") from error
    if not isinstance(event, dict):
        raise MalformedEvent("the body is not a JSON object")
    kind = event.get("event")
    if kind == "message_created":
        if event.get("message_type") != "incoming" or event.get("private"):
            return None
        text, shown_as = str(event.get("content") or ""), None
    elif kind == "message_updated":
        chosen = _submitted_choice(event.get("content_attributes"))
        if chosen is None:
            return None
        text, shown_as = chosen
    else:
        return None
    conversation = event.get("conversation")
    account = event.get("account")
    if not (isinstance(conversation, dict) and isinstance(account, dict)):
        raise MalformedEvent("a message event without conversation or account")
    if conversation.get("id") is None or account.get("id") is None:
        raise MalformedEvent("a message event without conversation id or account id")
    return Incoming(
        account=str(account["id"]),
        conversation=str(conversation["id"]),
        status=str(conversation.get("status") or ""),
        text=text,
        message_id=f"{kind}:{event.get('id')}",
        shown_as=shown_as,
    )


def _submitted_choice(attributes: Any) -> Optional[tuple[str, str]]:
    submitted = attributes.get("submitted_values") if isinstance(attributes, dict) else None
    if not (isinstance(submitted, list) and submitted and isinstance(submitted[0], dict)):
        return None
    value = submitted[0].get("value")
    return (str(value), str(submitted[0].get("title") or value)) if value else None


class ChatwootInput(InputChannel):
    """Answers Chatwoot's agent-bot webhooks while a conversation is the bot's; hands it over as ``open``."""

    @classmethod
    def name(cls) -> str:
        return "chatwoot"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> ChatwootInput:
        credentials = credentials or {}

        def option(name: str) -> str:
            if name in credentials:
                return str(credentials[name] or "").strip()
            variable = str(credentials.get(f"{name}_env") or "").strip()
            return os.environ.get(variable, "").strip() if variable else ""

        return cls(option("url"), option("bot_token"), option("webhook_token"))

    def __init__(self, url: str, bot_token: str, webhook_token: str) -> None:
        self.api = ChatwootAPI(url, bot_token)
        self.webhook_token = webhook_token
        # Answers still being worked on after Chatwoot's request was answered.
        self._background: set[asyncio.Task] = set()

    @property
    def configured(self) -> bool:
        return self.api.configured and bool(self.webhook_token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        guarded = shared_guard().wrap(on_new_message)
        webhook = Blueprint(f"chatwoot_webhook_{id(self)}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.configured else "not configured"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.configured:
                return response.text(NOT_CONFIGURED, status=503)
            if not hmac.compare_digest(str(request.args.get("token") or ""), self.webhook_token):
                return response.text("invalid token", status=403)
            if len(request.body or b"") > MAX_BODY_BYTES:
                return response.text("event too large", status=413)
            try:
                incoming = read_event(request.body or b"")
            except MalformedEvent as error:
                return response.text(str(error), status=400)
            if incoming is None or incoming.status != BOT_STATUS:
                # Not a user's message, or a person has the conversation: the bot stays silent.
                return response.json({"status": "ignored"})
            # Chatwoot waits a few seconds for webhooks: answer at once, reply through its API.
            task = asyncio.get_running_loop().create_task(self._converse(request.app, incoming, guarded))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return response.json({"status": "accepted"})

        return webhook

    async def _converse(self, app: Any, incoming: Incoming, handle: Callable[[UserMessage], Awaitable[Any]]) -> None:
        try:
            if await self._is_handed_off(app, incoming.sender_id):
                # An agent set the conversation back to pending: the bot is back (and says so).
                await self._ask_bot(incoming, RESUME_PAYLOAD, None, handle)
            await self._ask_bot(incoming, incoming.text, incoming.shown_as, handle)
            if await self._is_handed_off(app, incoming.sender_id):
                await self.api.set_status(incoming.account, incoming.conversation, OPEN)
        except ConversationNotRecorded as outage:
            # The conversation store is unreachable: the user hears so, with the hotline.
            await self.api.send_message(incoming.account, incoming.conversation, message_body(outage.reply))
        except Exception:
            logger.exception("The bot failed on a Chatwoot message in conversation %s.", incoming.conversation)

    async def _ask_bot(
        self,
        incoming: Incoming,
        text: str,
        shown_as: Optional[str],
        handle: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        collector = CollectingOutputChannel()
        metadata: dict[str, Any] = {"chatwoot": {"account": incoming.account, "conversation": incoming.conversation}}
        if shown_as:
            metadata[SHOWN_AS] = shown_as
        await handle(
            UserMessage(
                text,
                collector,
                incoming.sender_id,
                input_channel=self.name(),
                message_id=incoming.message_id,
                metadata=metadata,
            )
        )
        for message in collector.messages:
            if message.get("text"):
                body = message_body(message["text"], message.get("buttons"))
                await self.api.send_message(incoming.account, incoming.conversation, body)

    async def _is_handed_off(self, app: Any, sender_id: str) -> bool:
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        if agent is None or agent.tracker_store is None:
            return False
        tracker = await agent.tracker_store.retrieve(sender_id)
        return bool(tracker and tracker.get_slot(HANDOFF_SLOT))
