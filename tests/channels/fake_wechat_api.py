"""A local stand-in for WeChat's API server (api.weixin.qq.com), in a thread.

Serves the two calls the channel makes: ``GET /cgi-bin/token`` and
``POST /cgi-bin/message/custom/send``. It records token requests and the
messages sent, checks app id, secret and access token like WeChat does, and
can expire its tokens or answer one send with an error code on demand.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Set
from urllib.parse import parse_qs, urlparse


class FakeWeChatAPI:
    def __init__(self, port: int = 0, app_id: str = "wx-test-app", app_secret: str = "test-app-secret",
                 expires_in: int = 7200) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.expires_in = expires_in
        self.token_requests: List[Dict[str, str]] = []
        self.sent: List[Dict[str, Any]] = []        # accepted messages, with the token used
        self.rejected: List[Dict[str, Any]] = []    # sends answered with an errcode
        self._valid_tokens: Set[str] = set()
        self._expired_tokens: Set[str] = set()
        self._next_send_errcodes: List[int] = []
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeWeChatAPI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeWeChatAPI":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # --- what tests arrange --------------------------------------------------

    def fail_next_send(self, errcode: int) -> None:
        """Answer the next custom/send with ``errcode`` (e.g. 40001), once."""
        with self._changed:
            self._next_send_errcodes.append(errcode)

    def expire_tokens(self) -> None:
        """Every token issued so far expires: WeChat then answers 42001."""
        with self._changed:
            self._expired_tokens |= self._valid_tokens
            self._valid_tokens.clear()

    def reset(self) -> None:
        with self._changed:
            self.token_requests.clear()
            self.sent.clear()
            self.rejected.clear()
            self._next_send_errcodes.clear()
            self._expired_tokens |= self._valid_tokens
            self._valid_tokens.clear()

    def is_valid_token(self, token: str) -> bool:
        with self._changed:
            return token in self._valid_tokens

    def messages_to(self, openid: str) -> List[Dict[str, Any]]:
        with self._changed:
            return [entry["message"] for entry in self.sent if entry["message"].get("touser") == openid]

    def wait_for_messages_to(self, openid: str, count: int = 1, timeout: float = 10.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages_to(openid)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self.messages_to(openid)

    # --- WeChat's side ---------------------------------------------------------------

    def _issue_token(self, query: Dict[str, str]) -> Dict[str, Any]:
        with self._changed:
            self.token_requests.append(query)
            if query.get("grant_type") != "client_credential":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if query.get("appid") != self.app_id:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("secret") != self.app_secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            token = f"fake-token-{len(self.token_requests)}"
            self._valid_tokens.add(token)
            return {"access_token": token, "expires_in": self.expires_in}

    def _send_message(self, token: Optional[str], body: bytes) -> Dict[str, Any]:
        with self._changed:
            try:
                message = json.loads(body.decode("utf-8"))
            except ValueError:
                return {"errcode": 47001, "errmsg": "data format error"}
            if self._next_send_errcodes:
                answer = {"errcode": self._next_send_errcodes.pop(0), "errmsg": "arranged by the test"}
            elif token in self._expired_tokens:
                answer = {"errcode": 42001, "errmsg": "access_token expired"}
            elif token not in self._valid_tokens:
                answer = {"errcode": 40001, "errmsg": "invalid credential"}
            else:
                answer = {"errcode": 0, "errmsg": "ok"}
            entry = {"access_token": token, "message": message, "raw": body}
            (self.sent if answer["errcode"] == 0 else self.rejected).append(entry)
            self._changed.notify_all()
            return answer

    def _handler_class(self) -> type:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlparse(self.path)
                if url.path != "/cgi-bin/token":
                    return self._answer({"errcode": 404, "errmsg": "not found"}, status=404)
                query = {name: values[0] for name, values in parse_qs(url.query).items()}
                self._answer(api._issue_token(query))

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if url.path != "/cgi-bin/message/custom/send":
                    return self._answer({"errcode": 404, "errmsg": "not found"}, status=404)
                token = (parse_qs(url.query).get("access_token") or [None])[0]
                self._answer(api._send_message(token, body))

            def _answer(self, payload: Dict[str, Any], status: int = 200) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                # Like WeChat: JSON labelled text/plain.
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
