"""The web page with the chat widget (http://localhost:8080/), the widget's files, and the agent desk.

``make run`` starts it beside Rasa (bot/launcher/). It serves the demo page,
``widget.js`` / ``widget.css`` and the socket.io browser client installed
from npm (``bot/web/node_modules``), so nothing is fetched from a CDN at run
time; and, under /agent/, the agent desk (bot/desk/app.py), which reaches
the conversations through Rasa's HTTP API on ``--rasa-port``.

``/rasa-webchat.html`` is the same bot in botfront's ``rasa-webchat`` 1.0.1,
the community's usual Rasa widget (its prebuilt ``lib/index.js`` from npm,
React included), for trying the socket.io channel with a stock widget. Its
stylesheet imports a Google font; that import is cut, so the page fetches
nothing from outside either (the font falls back to the system's).

    python -m bot.web.server --port 8080 --rasa-port 5005
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from aiohttp import web

from bot.desk.app import DeskSettings, add_desk

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
SOCKET_IO_CLIENT = WEB_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
RASA_WEBCHAT = WEB_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
FILES = {
    "/widget.js": (STATIC_DIR / "widget.js", "application/javascript"),
    "/widget.css": (STATIC_DIR / "widget.css", "text/css"),
    "/vendor/socket.io.min.js": (SOCKET_IO_CLIENT, "application/javascript"),
    "/vendor/rasa-webchat.js": (RASA_WEBCHAT, "application/javascript"),
}
PAGES = {"/": "index.html", "/rasa-webchat.html": "rasa-webchat.html"}
# rasa-webchat's CSS starts with @import url(https://fonts.googleapis.com/css?family=Inter...).
_GOOGLE_FONTS_IMPORT = re.compile(rb"@import url\(https://fonts\.googleapis\.com/[^)]*\);")


def create_app(rasa_port: int) -> web.Application:
    app = web.Application()
    app["rasa_port"] = rasa_port
    for path in PAGES:
        app.router.add_get(path, page)
    for path in FILES:
        app.router.add_get(path, static_file)
    add_desk(app, DeskSettings.from_env(rasa_port))
    return app


async def page(request: web.Request) -> web.Response:
    text = (STATIC_DIR / PAGES[request.path]).read_text(encoding="utf-8")
    widget_url = f"{request.scheme}://{request.host}/widget.js"
    text = text.replace("{widget_url}", widget_url).replace("{rasa_port}", str(request.app["rasa_port"]))
    return web.Response(text=text, content_type="text/html", charset="utf-8", headers=_no_cache())


async def static_file(request: web.Request) -> web.StreamResponse:
    path, content_type = FILES[request.path]
    if not path.is_file():
        raise web.HTTPServiceUnavailable(text=f"{request.path} is missing: run `make install` (npm ci in bot/web)")
    # Any page may embed the widget, so its files are readable from any origin.
    headers = {**_no_cache(), "Access-Control-Allow-Origin": "*"}
    body = path.read_bytes()
    if path == RASA_WEBCHAT:
        body = _GOOGLE_FONTS_IMPORT.sub(b"", body)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


def _no_cache() -> dict:
    # A new widget version reaches pages on their next load.
    return {"Cache-Control": "no-cache"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rasa-port", type=int, default=5005)
    args = parser.parse_args()
    # Open desk event streams end at shutdown; no need to wait aiohttp's minute for them.
    web.run_app(create_app(args.rasa_port), host=args.host, port=args.port, print=None, shutdown_timeout=5)


if __name__ == "__main__":
    main()
