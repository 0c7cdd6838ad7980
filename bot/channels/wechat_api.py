"""WeChat's customer-service message API (客服消息接口), as the WeChat channel needs it.

A passive reply must reach WeChat within 5 seconds. Answers that take longer
are sent afterwards through ``POST /cgi-bin/message/custom/send``, which needs
an access token from ``GET /cgi-bin/token``. The token lives about two hours
and WeChat limits how often it may be fetched, so it is cached until shortly
before it expires and fetched again only when WeChat says it is invalid.

Sending never raises: a lost answer is logged, it must not break the channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Optional

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
# invalid credential / invalid access_token / access_token expired
EXPIRED_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# Fetch a new token this long before WeChat says the old one expires.
TOKEN_REFRESH_MARGIN_SECONDS = 300.0
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)


class WeChatAPIError(Exception):
    """WeChat answered with a non-zero errcode (or something that is not its JSON)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatAPI:
    """Sends text messages to a follower through the customer-service message API."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        api_base: str = DEFAULT_API_BASE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_id = app_id
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self._app_secret = app_secret
        self._clock = clock
        self._token: Optional[str] = None
        self._token_fresh_until = 0.0
        self._token_lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self._app_secret)

    async def send_text(self, openid: str, content: str) -> bool:
        """Send ``content`` to ``openid``; True when WeChat accepted it. Failures are logged."""
        if not self.configured:
            logger.error("WeChat answer for %s dropped: app_id/app_secret are not configured.", openid)
            return False
        try:
            await self._send_text_refreshing_token_once(openid, content)
            return True
        except WeChatAPIError as error:
            logger.error("WeChat refused the answer for %s: %s", openid, error)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.error("WeChat API unreachable, answer for %s lost: %r", openid, error)
        return False

    async def access_token(self) -> str:
        """The cached token, fetched once for all messages until shortly before it expires."""
        async with self._token_lock:
            if self._token is None or self._clock() >= self._token_fresh_until:
                self._token, lifetime = await self._fetch_token()
                self._token_fresh_until = self._clock() + _fresh_for(lifetime)
            return self._token

    def forget_token(self, token: str) -> None:
        """Drop ``token`` if it is still the cached one (another call may have replaced it)."""
        if self._token == token:
            self._token = None

    async def _send_text_refreshing_token_once(self, openid: str, content: str) -> None:
        message = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        token = await self.access_token()
        result = await self._post_custom_message(token, message)
        if result.get("errcode") in EXPIRED_TOKEN_ERRCODES:
            logger.info("WeChat access token rejected (errcode %s): fetching a new one.", result["errcode"])
            self.forget_token(token)
            result = await self._post_custom_message(await self.access_token(), message)
        _raise_for_errcode(result)

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._app_secret}
        async with (
            aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session,
            session.get(f"{self.api_base}/cgi-bin/token", params=params) as response,
        ):
            result = await _json_of(response)
        _raise_for_errcode(result)
        if not result.get("access_token"):
            raise WeChatAPIError(-1, "token response without access_token")
        return result["access_token"], float(result.get("expires_in") or 7200)

    async def _post_custom_message(self, token: str, message: dict[str, Any]) -> dict[str, Any]:
        # WeChat shows \uXXXX escapes literally in some clients: send real UTF-8.
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        async with (
            aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session,
            session.post(
                f"{self.api_base}/cgi-bin/message/custom/send",
                params={"access_token": token},
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
            ) as response,
        ):
            return await _json_of(response)


def _fresh_for(lifetime: float) -> float:
    # Short-lived tokens (tests, odd proxies) still get half their life.
    return max(lifetime - TOKEN_REFRESH_MARGIN_SECONDS, lifetime / 2)


async def _json_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    # WeChat labels its JSON text/plain.
    result = await response.json(content_type=None)
    if not isinstance(result, dict):
        raise WeChatAPIError(-1, f"unexpected answer (HTTP {response.status})")
    return result


def _raise_for_errcode(result: dict[str, Any]) -> None:
    errcode = result.get("errcode") or 0
    if errcode != 0:
        raise WeChatAPIError(int(errcode), str(result.get("errmsg", "")))
