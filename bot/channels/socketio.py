"""Rasa's socket.io channel with session persistence that works, and history on reconnect.

Rasa 3.6 calls ``sio.enter_room(...)`` without ``await``; python-socketio 5
made it a coroutine, so with ``session_persistence`` the socket never joins
the session's room and the bot's answers, sent to the room, never arrive.
This channel awaits it. It also lets a page that reconnects with a known
``session_id`` (a reload, a second tab) show the conversation so far
(``session_history``), and shows each user message to the session's other
tabs. When a store of the conversations is unreachable the page gets the
outage message as a bot message (bot/channels/outage.py), also after answers
it already showed. Configured in credentials.yml as
``bot.channels.socketio.PersistentSocketIOInput``.

With the shared state in Redis (``SHARED_STATE=redis``, the production
profile) the server's client manager is :class:`SharedRoomsManager`, on
python-socketio's ``AsyncRedisManager``: every emit to a session's room (the
bot's answers, a user message shown to the other tabs) is published to the
other instances too, so a second tab connected to another instance follows the conversation
live. Each socket itself still lives on the instance it connected to (the
load balancer keeps ``/socket.io`` sticky).

What the widgets get:

- The bot's text (``bot_uttered``) as Markdown that shows exactly that text
  (:mod:`bot.channels.markdown`): the usual Rasa widgets render Markdown, and
  would join the bot's lines into one paragraph otherwise. Our widget takes
  the Markdown off again; ``session_history`` is plain text, for our widget only.
- A user message, in the session's other tabs: ``user_uttered`` (the text and
  the button title) for pages that said in ``session_request`` that they show it
  (``shows_user_echo: true``, as our widget does); stock widgets ignore that
  event, so the others get a ``bot_uttered`` quoting the message
  (channel_texts.yml), marked ``metadata.user_echo``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Optional

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot import knowledge
from bot.channels.guard import shared_guard
from bot.channels.markdown import as_markdown
from bot.channels.outage import ConversationNotRecorded, answer_outages_with_503, is_storage_outage, not_recorded
from bot.knowledge.texts import fill, response_placeholders
from bot.stores.shared_state import REDIS_FAILURES, SOCKET_TIMEOUT, Outage, RedisSettings, shared_redis

logger = logging.getLogger(__name__)

HISTORY_EVENT = "session_history"
# A page shows at most this many past messages after a reload.
HISTORY_LIMIT = 200
MAX_TITLE_CHARS = 100
# Message metadata: the button title a click is shown as, the socket it came from.
SHOWN_AS = "shown_as"
SOCKET_ID = "socket_id"
# An emit waits at most this long for Redis to take it for the other instances.
PUBLISH_TIMEOUT = 2.0
# session_request's flag of a page that shows the user_uttered echo itself.
SHOWS_USER_ECHO = "shows_user_echo"


class MarkdownSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output with the bot's text as Markdown that renders as that text, line breaks kept."""

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if isinstance(response, dict) and isinstance(response.get("text"), str):
            response = {**response, "text": as_markdown(response["text"])}
        await super()._send_message(socket_id, response)


def quoted_echo_room(session_id: str) -> str:
    """The room of a session's pages that need a user message quoted by the bot to show it."""
    return f"quoted-echo:{session_id}"


def quoted_echo(shown: str) -> dict[str, Any]:
    """A user message as a bot message a stock widget shows, marked so that a smarter one can tell."""
    template = knowledge.load("channel_texts")["socketio"]["other_tab_message"]
    text = fill(template, {**response_placeholders(), "message": shown})
    return {"text": as_markdown(text), "metadata": {"user_echo": True}}


class _AppAwareBlueprint(SocketBlueprint):
    """Remembers the Sanic app, whose agent holds the tracker store (for history)."""

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        self.ctx.app = app
        super().register(app, options)


class PersistentSocketIOInput(SocketIOInput):
    """socket.io with working session persistence (``session_persistence: true``)."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[], client_manager=client_manager())
        webhook = _AppAwareBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        answer_outages_with_503(webhook)
        self.sio = sio

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        sio.on("connect", self._on_connect, namespace=self.namespace)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Optional[dict]) -> None:
            session_id = _session_id(data) or uuid.uuid4().hex
            if self.session_persistence:
                await _maybe_await(sio.enter_room(sid, session_id, namespace=self.namespace))
                if not (isinstance(data, dict) and data.get(SHOWS_USER_ECHO) is True):
                    await _maybe_await(sio.enter_room(sid, quoted_echo_room(session_id), namespace=self.namespace))
                await sio.save_session(sid, {"session_id": session_id}, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            if self.session_persistence:
                try:
                    history = await self._history(webhook, session_id)
                except Exception as error:
                    if not is_storage_outage(error):
                        raise
                    outage = not_recorded(session_id, error)
                    await sio.emit(HISTORY_EVENT, [], room=sid, namespace=self.namespace)
                    await sio.emit(self.bot_message_evt, {"text": outage.reply}, room=sid, namespace=self.namespace)
                    return
                await sio.emit(HISTORY_EVENT, history, room=sid, namespace=self.namespace)

        async def show_in_other_tabs_then_handle(message: UserMessage) -> None:
            # After the guard: other tabs see the masked text, as stored.
            if self.session_persistence:
                await self._show_in_other_tabs(webhook, message)
            await on_new_message(message)

        guarded = shared_guard().wrap(show_in_other_tabs_then_handle)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                return
            sender_id = await self._sender_of(sid, data)
            if sender_id is None:
                return
            text = data.get("message")
            metadata = {**_metadata(data.get(self.metadata_key)), SOCKET_ID: sid}
            if isinstance(data.get("title"), str):
                metadata[SHOWN_AS] = data["title"][:MAX_TITLE_CHARS]
            output = MarkdownSocketIOOutput(sio, self.bot_message_evt)
            try:
                await guarded(
                    UserMessage(
                        text if isinstance(text, str) else "",
                        output,
                        sender_id,
                        input_channel=self.name(),
                        metadata=metadata,
                    )
                )
            except ConversationNotRecorded as outage:
                await output.send_text_message(sender_id, outage.reply)

        return webhook

    def get_output_channel(self) -> Optional[OutputChannel]:
        # Messages Rasa sends on its own (HTTP API, reminders) get the same Markdown as answers.
        sio = getattr(self, "sio", None)
        return MarkdownSocketIOOutput(sio, self.bot_message_evt) if sio is not None else None

    async def _show_in_other_tabs(self, webhook: _AppAwareBlueprint, message: UserMessage) -> None:
        """The user's message in the session's other tabs: as the user's own, or quoted by the bot for stock widgets."""
        metadata = message.metadata or {}
        title = metadata.get(SHOWN_AS)
        if title is None and (message.text or "").startswith("/"):
            # A stock widget's button click sends only the payload: show the button's title.
            title = await self._button_title(webhook, message.sender_id, message.text or "")
            if title is None:
                return  # a payload no one typed (a widget's start payload): nothing to show
        others = {"skip_sid": metadata.get(SOCKET_ID), "namespace": self.namespace}
        await self.sio.emit(
            self.user_message_evt, {"text": message.text, "title": title}, room=message.sender_id, **others
        )
        shown = title or message.text or ""
        await self.sio.emit(
            self.bot_message_evt, quoted_echo(shown), room=quoted_echo_room(message.sender_id), **others
        )

    async def _on_connect(self, sid: str, environ: dict, auth: Optional[dict] = None) -> bool:
        if not self.jwt_key:
            return True
        from rasa.core.channels.channel import decode_bearer_token

        token = (auth or {}).get("token")
        return bool(token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))

    async def _sender_of(self, sid: str, data: dict) -> Optional[str]:
        if not self.session_persistence:
            return sid
        session = await self.sio.get_session(sid, namespace=self.namespace)
        # Only the session this socket asked for: a page cannot write into
        # another session by naming its id in a message.
        joined = session.get("session_id")
        if not joined or (data.get("session_id") and data.get("session_id") != joined):
            logger.warning("socket.io message without a confirmed session ignored")
            return None
        return joined

    async def _history(self, webhook: _AppAwareBlueprint, session_id: str) -> list[dict[str, Any]]:
        return conversation_history(await _events(webhook, session_id))

    async def _button_title(self, webhook: _AppAwareBlueprint, session_id: str, payload: str) -> Optional[str]:
        """The title of the button with ``payload`` in the bot's last message, as the history shows a click."""
        for event in reversed(await _events(webhook, session_id)):
            if getattr(event, "type_name", None) == "bot":
                buttons = (event.data or {}).get("buttons") or []
                return next((button.get("title") for button in buttons if button.get("payload") == payload), None)
        return None


class SharedRoomsManager(AsyncRedisManager):
    """python-socketio's Redis manager, its publishing failing as the shared state does: open, fast, said once.

    An emit reaches this instance's sockets first; publishing it for the other
    instances gives up after PUBLISH_TIMEOUT (the subscriber waits on Redis with
    no read timeout, a quiet channel being no error, so the client has none),
    and while Redis is unreachable it is not tried on every emit, with one
    warning per outage.
    """

    connected: bool  # the manager's: False makes the next publish connect afresh

    def __init__(self, settings: RedisSettings) -> None:
        # The channel carries the key prefix: Redis pub/sub ignores the database number.
        super().__init__(
            settings.url,
            channel=settings.key("socketio"),
            redis_options={"socket_connect_timeout": SOCKET_TIMEOUT},
        )
        self._outage = Outage(
            f"socket.io: Redis at {settings.address}",
            "tabs connected to other instances miss what this instance sends",
            log=logger,
        )

    async def _publish(self, data: Any) -> None:
        if self._outage.waiting():
            return
        try:
            if not self.connected:
                self._redis_connect()
            await asyncio.wait_for(self.redis.publish(self.channel, self.json.dumps(data)), PUBLISH_TIMEOUT)
        except REDIS_FAILURES as error:
            self.connected = False  # a fresh connection next time
            self._outage.failed(error)
        else:
            self._outage.succeeded()


def client_manager() -> Optional[SharedRoomsManager]:
    """Redis pub/sub between the instances when the state is shared; else the default, this process only."""
    settings = shared_redis()
    return SharedRoomsManager(settings) if settings else None


def conversation_history(events: Any) -> list[dict[str, Any]]:
    """What the page shows after a reload: user and bot messages, buttons by their titles."""
    history: list[dict[str, Any]] = []
    titles: dict[str, str] = {}
    for event in events:
        kind = getattr(event, "type_name", None)
        if kind == "bot":
            buttons = (event.data or {}).get("buttons") or []
            titles = {button.get("payload"): button.get("title") for button in buttons}
            history.append({"sender": "bot", "text": event.text or "", "buttons": buttons})
        elif kind == "user" and event.text is not None:
            history.append({"sender": "user", "text": titles.get(event.text, event.text)})
    return history[-HISTORY_LIMIT:]


async def _events(webhook: _AppAwareBlueprint, session_id: str) -> list[Any]:
    """The session's events in the tracker store of the app the channel is mounted on."""
    agent = getattr(getattr(webhook.ctx, "app", None), "ctx", None)
    agent = getattr(agent, "agent", None)
    if agent is None or agent.tracker_store is None:
        return []
    tracker = await agent.tracker_store.retrieve(session_id)
    return list(tracker.events) if tracker else []


def _session_id(data: Any) -> Optional[str]:
    if isinstance(data, dict) and isinstance(data.get("session_id"), str) and 0 < len(data["session_id"]) <= 128:
        return data["session_id"]
    return None


def _metadata(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


async def _maybe_await(result: Any) -> None:
    # python-socketio 5 returns a coroutine; older versions returned None.
    if inspect.isawaitable(result):
        await result
