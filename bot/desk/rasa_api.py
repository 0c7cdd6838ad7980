"""The conversation as the desk reaches it: Rasa's own HTTP API.

The desk reads the tracker (``GET /conversations/<id>/tracker``) and adds
its messages as events (``POST /conversations/<id>/tracker/events``) with
``execute_side_effects=true&output_channel=latest``: Rasa takes the
conversation's lock, stores the bot events and sends them through the
output channel of the user's latest message: the widget's socket.io room
(every tab; with the Redis client manager of the production profile, on
whichever instance the socket is), WeChat's customer-service message API,
or, for REST, nothing beyond the tracker that REST clients poll. The desk
never needs to know where the user's socket is.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any, Optional

import aiohttp

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=3)


class RasaUnavailable(Exception):
    """Rasa did not take the request (down, refused the token, or failed)."""


def bot_event(message: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """A BotUttered event with the message's text and buttons; ``metadata`` says it came from the desk."""
    data = {"buttons": message["buttons"]} if message.get("buttons") else {}
    return {"event": "bot", "text": message["text"], "data": data, "metadata": metadata}


def slot_events(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"event": "slot", "name": name, "value": value} for name, value in values.items()]


class RasaAPI:
    """Rasa's HTTP API (``--enable-api``), with ``RASA_AUTH_TOKEN`` when Rasa requires it."""

    def __init__(self, base_url: str, token: Optional[str] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token or None
        self._session: Optional[aiohttp.ClientSession] = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation's tracker with its events since the last restart."""
        return await self._request("GET", self._url(sender_id, "tracker"), params={"include_events": "AFTER_RESTART"})

    async def add_events(self, sender_id: str, events: list[dict[str, Any]], send: bool) -> None:
        """Store ``events`` in the conversation; with ``send``, Rasa sends its bot events to the user's channel."""
        params = {"include_events": "NONE", "output_channel": "latest"}
        if send:
            params["execute_side_effects"] = "true"
        await self._request("POST", self._url(sender_id, "tracker/events"), params=params, json=events)

    def _url(self, sender_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{urllib.parse.quote(sender_id, safe='')}/{tail}"

    async def _request(self, method: str, url: str, params: dict[str, str], json: Any = None) -> dict[str, Any]:
        if self._token:
            params = {**params, "token": self._token}
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=REQUEST_TIMEOUT)
        try:
            async with self._session.request(method, url, params=params, json=json) as response:
                if response.status >= 400:
                    detail = (await response.text())[:200]
                    raise RasaUnavailable(f"Rasa answered {response.status} to {method} {url}: {detail}")
                result = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise RasaUnavailable(f"Rasa unreachable at {self.base_url}: {error!r}") from error
        return result if isinstance(result, dict) else {}
