"""Chatwoot's application API, as the agent-bot connector needs it (bot/channels/chatwoot.py).

Two documented calls, authenticated with the agent bot's access token in the
``api_access_token`` header:

- ``POST /api/v1/accounts/{account}/conversations/{conversation}/messages``
  (create a message: ``content``, ``message_type: outgoing``; buttons as the
  ``input_select`` interactive message with ``content_attributes.items``);
- ``POST /api/v1/accounts/{account}/conversations/{conversation}/toggle_status``
  (``{"status": "open"}`` hands the conversation to the human agents).

Tested only against a local stand-in that follows Chatwoot's documented
payloads (tests/channels/fake_chatwoot.py), not a real Chatwoot. Calls never
raise: a failure is logged, it must not break the channel.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import aiohttp

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
OPEN = "open"


def message_body(text: str, buttons: Optional[list[dict[str, Any]]] = None) -> dict[str, Any]:
    """A bot message as Chatwoot's create-message body; buttons become an options (input_select) message."""
    body: dict[str, Any] = {"content": text, "message_type": "outgoing", "private": False}
    items = [
        {"title": str(button.get("title") or ""), "value": str(button.get("payload"))}
        for button in buttons or []
        if button.get("payload")
    ]
    if items:
        body.update(content_type="input_select", content_attributes={"items": items})
    return body


class ChatwootAPI:
    """Posts the bot's messages into a Chatwoot conversation and hands it to the agents."""

    def __init__(self, base_url: str, bot_token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = bot_token

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self._token)

    async def send_message(self, account: str, conversation: str, body: dict[str, Any]) -> bool:
        return await self._post(f"{self._conversation(account, conversation)}/messages", body)

    async def set_status(self, account: str, conversation: str, status: str) -> bool:
        return await self._post(f"{self._conversation(account, conversation)}/toggle_status", {"status": status})

    def _conversation(self, account: str, conversation: str) -> str:
        return f"{self.base_url}/api/v1/accounts/{account}/conversations/{conversation}"

    async def _post(self, url: str, body: dict[str, Any]) -> bool:
        headers = {"api_access_token": self._token, "Accept": "application/json"}
        try:
            async with (
                aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session,
                session.post(url, json=body, headers=headers) as answer,
            ):
                if answer.status >= 400:
                    logger.error("Chatwoot refused %s: HTTP %s %s", url, answer.status, (await answer.text())[:200])
                    return False
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("Chatwoot unreachable for %s: %r", url, error)
            return False
        return True
