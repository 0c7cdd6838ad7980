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
"""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels.guard import shared_guard
from bot.channels.outage import ConversationNotRecorded, answer_outages_with_503, is_storage_outage, not_recorded

logger = logging.getLogger(__name__)

HISTORY_EVENT = "session_history"
# A page shows at most this many past messages after a reload.
HISTORY_LIMIT = 200
MAX_TITLE_CHARS = 100
# Message metadata: the button title a click is shown as, the socket it came from.
SHOWN_AS = "shown_as"
SOCKET_ID = "socket_id"


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
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
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
                shown = {"text": message.text, "title": (message.metadata or {}).get(SHOWN_AS)}
                await sio.emit(
                    self.user_message_evt,
                    shown,
                    room=message.sender_id,
                    skip_sid=(message.metadata or {}).get(SOCKET_ID),
                    namespace=self.namespace,
                )
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
            output = SocketIOOutput(sio, self.bot_message_evt)
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
        agent = getattr(getattr(webhook.ctx, "app", None), "ctx", None)
        agent = getattr(agent, "agent", None)
        if agent is None or agent.tracker_store is None:
            return []
        tracker = await agent.tracker_store.retrieve(session_id)
        return conversation_history(tracker.events if tracker else [])


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
