"""A local stand-in for Chatwoot, in a thread, following Chatwoot's documented payloads.

Chatwoot's side of an agent bot, as far as the connector (bot/channels/chatwoot.py)
sees it:

- the webhook events it posts to the agent bot's outgoing URL
  (``message_created``, ``message_updated``; the shape of Chatwoot's webhook
  documentation: message fields at the top, ``conversation`` with ``id`` and
  ``status``, ``account``, ``inbox``, ``sender``), built by :meth:`event`;
- the two API calls the bot makes, checked like Chatwoot does (the agent bot's
  ``api_access_token``): create a message, toggle a conversation's status.

Conversations start ``pending`` (an inbox with an agent bot), and toggling
changes the status the next events carry, as in Chatwoot.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

STATUSES = ("open", "resolved", "pending", "snoozed")
_CONVERSATION = re.compile(r"^/api/v1/accounts/(\d+)/conversations/(\d+)/(messages|toggle_status)$")


class FakeChatwoot:
    def __init__(self, port: int = 0, bot_token: str = "chatwoot-bot-token", account: int = 1) -> None:
        self.bot_token = bot_token
        self.account = account
        self.messages: List[Dict[str, Any]] = []  # created by the bot, with their conversation
        self.status_changes: List[Dict[str, Any]] = []
        self.refused: List[Dict[str, Any]] = []
        self._statuses: Dict[int, str] = {}
        self._ids = itertools.count(1000)
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeChatwoot":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what tests do as Chatwoot and its agents -------------------------------------

    def new_conversation(self) -> int:
        with self._changed:
            conversation = next(self._ids)
            self._statuses[conversation] = "pending"
            return conversation

    def status(self, conversation: int) -> str:
        with self._changed:
            return self._statuses[conversation]

    def agent_sets(self, conversation: int, status: str) -> None:
        """An agent changes the status in Chatwoot's dashboard."""
        with self._changed:
            self._statuses[conversation] = status

    def event(self, conversation: int, content: str = "", kind: str = "message_created",
              message_type: str = "incoming", private: bool = False,
              submitted: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        """A webhook body as Chatwoot posts it to the agent bot."""
        message_id = next(self._ids)
        attributes = {"submitted_values": [submitted]} if submitted else {}
        return {
            "event": kind,
            "id": message_id,
            "content": content,
            "created_at": "2026-11-25T02:30:00.000Z",
            "message_type": message_type,
            "content_type": "input_select" if submitted else "text",
            "private": private,
            "content_attributes": attributes,
            "source_id": None,
            "sender": {"id": 14, "name": "little-haze-776", "avatar": "", "type": "contact"},
            "inbox": {"id": 1, "name": "拼多多客服"},
            "conversation": {
                "can_reply": True,
                "channel": "Channel::WebWidget",
                "id": conversation,
                "inbox_id": 1,
                "contact_inbox": {"id": 12, "contact_id": 14, "inbox_id": 1, "source_id": "405f1d30"},
                "meta": {"sender": {"id": 14, "name": "little-haze-776", "type": "contact"}, "assignee": None},
                "status": self.status(conversation),
                "unread_count": 1,
                "timestamp": 1795000000,
            },
            "account": {"id": self.account, "name": "拼多多"},
        }

    def post_event(self, webhook_url: str, body: Dict[str, Any]) -> int:
        """Chatwoot's AgentBotJob: POST the event as JSON; the status code."""
        request = urllib.request.Request(webhook_url, data=json.dumps(body).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def messages_in(self, conversation: int) -> List[Dict[str, Any]]:
        with self._changed:
            return [entry["body"] for entry in self.messages if entry["conversation"] == conversation]

    def wait_for_messages(self, conversation: int, count: int, timeout: float = 20.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages_in(conversation)) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return self.messages_in(conversation)

    def wait_for_status(self, conversation: int, status: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._statuses[conversation] != status and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return self._statuses[conversation]

    # --- Chatwoot's API ------------------------------------------------------------------

    def _api(self, path: str, token: Optional[str], body: Dict[str, Any]) -> tuple:
        found = _CONVERSATION.match(path)
        if not found:
            return 404, {"error": "not found"}
        account, conversation, call = int(found.group(1)), int(found.group(2)), found.group(3)
        with self._changed:
            if token != self.bot_token:
                self.refused.append({"path": path, "token": token})
                return 401, {"error": "You need to sign in or sign up before continuing."}
            if account != self.account or conversation not in self._statuses:
                return 404, {"error": "Resource could not be found"}
            if call == "messages":
                self.messages.append({"conversation": conversation, "body": body})
                self._changed.notify_all()
                return 200, {"id": next(self._ids), "content": body.get("content"), "message_type": 1,
                             "conversation_id": conversation}
            if body.get("status") not in STATUSES:
                return 422, {"error": "invalid status"}
            self._statuses[conversation] = body["status"]
            self.status_changes.append({"conversation": conversation, "status": body["status"]})
            self._changed.notify_all()
            return 200, {"meta": {}, "payload": {"success": True, "current_status": body["status"],
                                                 "conversation_id": conversation}}

    def _handler_class(self) -> type:
        chatwoot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw.decode("utf-8") or "{}")
                except ValueError:
                    return self._answer(400, {"error": "invalid JSON"})
                status, payload = chatwoot._api(self.path, self.headers.get("api_access_token"), body)
                self._answer(status, payload)

            def _answer(self, status: int, payload: Dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
