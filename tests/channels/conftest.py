"""WeChat channel tests: the running test bot (with the WeChat token and the fake API), a signing client."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Dict, List, Optional

import pytest

from bot.channels.wechat import wechat_signature

WECHAT_TOKEN = "wechat-test-token"
WECHAT_APP_ID = "wx-test-app"
WECHAT_APP_SECRET = "test-app-secret"
OFFICIAL_ACCOUNT = "gh_0123456789ab"


@pytest.fixture(scope="session")
def wechat_bot(bot_servers):
    """The session's running bot: its WeChat channel knows the test token and uses the fake API."""
    return bot_servers


@dataclass
class Reply:
    status: int
    body: str
    content_type: str = ""


def new_openid() -> str:
    # Each test is a new follower, unique across runs (trackers persist).
    return f"o-test-{uuid.uuid4().hex[:16]}"


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_message(openid: str, content: str, msg_id: Optional[str] = None,
                 account: str = OFFICIAL_ACCOUNT) -> bytes:
    """The XML WeChat posts for a follower's text message."""
    return message_xml(openid, "text", {"Content": cdata(content), "MsgId": msg_id or new_msg_id()}, account)


def message_xml(openid: str, msg_type: str, fields: Dict[str, str], account: str = OFFICIAL_ACCOUNT,
                create_time: Optional[int] = None) -> bytes:
    body = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    return (
        f"<xml><ToUserName>{cdata(account)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType>{cdata(msg_type)}</MsgType>"
        f"{body}</xml>"
    ).encode("utf-8")


def new_msg_id() -> str:
    return str(uuid.uuid4().int % 10**19)


class WeChatServerClient:
    """Does what WeChat's servers do: signs each request with the shared token and posts it."""

    def __init__(self, base_url: str, token: str) -> None:
        self.webhook = f"{base_url}/webhooks/wechat/webhook"
        self.token = token

    def signed_query(self, openid: Optional[str] = None, token: Optional[str] = None, **extra: str) -> Dict[str, str]:
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        query = {"signature": wechat_signature(token or self.token, timestamp, nonce),
                 "timestamp": timestamp, "nonce": nonce, **extra}
        if openid:
            query["openid"] = openid
        return query

    def handshake(self, echostr: str, query: Optional[Dict[str, str]] = None) -> Reply:
        return self.request("GET", {**(query if query is not None else self.signed_query()), "echostr": echostr})

    def post(self, body: bytes, query: Optional[Dict[str, str]] = None) -> Reply:
        return self.request("POST", query if query is not None else self.signed_query(), body)

    def request(self, method: str, query: Dict[str, str], body: Optional[bytes] = None) -> Reply:
        url = f"{self.webhook}?{urllib.parse.urlencode(query)}" if query else self.webhook
        request = urllib.request.Request(url, data=body, method=method,
                                         headers={"Content-Type": "text/xml"} if body is not None else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return Reply(answer.status, answer.read().decode("utf-8"), answer.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode("utf-8"), error.headers.get("Content-Type", ""))


def user_messages(base_url: str, openid: str) -> List[Dict]:
    """The user events in the bot's tracker for ``openid`` (Rasa's HTTP API)."""
    with urllib.request.urlopen(f"{base_url}/conversations/{urllib.parse.quote(openid)}/tracker", timeout=30) as answer:
        events = json.loads(answer.read())["events"]
    return [event for event in events if event["event"] == "user"]
