"""The agent desk's pages and JSON API, which the web server serves at /agent/.

Every page and API answers only with a session: without one, pages redirect
to /agent/login and the API answers 401 (only the login page and its style
sheet are public). The session is a random cookie (HttpOnly, SameSite=Strict,
Secure behind HTTPS) stored by its hash in the service database, so any desk
process knows it and logging out ends it. Every POST of the API also needs
the session's CSRF token in ``X-CSRF-Token``; the login form checks Origin.

What the desk does with a conversation goes through Rasa's HTTP API
(bot/desk/rasa_api.py), so Rasa delivers the agent's messages in the user's
channel; who holds which conversation is decided in the database
(bot/services/desk.py, bot/stores/desk.py). The user's new messages reach the
agent over a server-sent event stream (``/agent/api/events``), which reads the
ticket messages the action server files (each poll one indexed query); it
works the same with any number of desk and Rasa processes, since all of them
share the database. A background task tells users nobody claimed within
``DESK_QUEUE_TIMEOUT_MINUTES`` that they can leave a number or a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import exc as sa_exc

from bot import clock
from bot.desk.accounts import Accounts, Agent
from bot.desk.rasa_api import RasaAPI, RasaUnavailable, bot_event, slot_events
from bot.services import desk
from bot.services.desk import DeskEvent, QueueEntry, WeChatBudget
from bot.settings import env_number

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
COOKIE = "desk_session"
CSRF_HEADER = "X-CSRF-Token"
PREFIX = "/agent"
LOGIN_PATH = f"{PREFIX}/login"
DEFAULT_SESSION_HOURS = 12.0
DEFAULT_SWEEP_SECONDS = 15.0
DEFAULT_POLL_SECONDS = 1.0
# Failed logins per (address, agent id) before a pause, and how long it lasts.
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW_SECONDS = 300.0
# The event stream re-reads this many message ids back: a message committed
# a moment after a later one (two writers) is still sent, once.
MESSAGE_LOOKBACK = 50
KEEPALIVE_SECONDS = 15.0
PUBLIC_ROUTES = {"desk_login", "desk_login_submit", "desk_login_css"}
FILES = {
    "desk.js": "application/javascript",
    "desk.css": "text/css",
}
SECURITY_HEADERS = {
    # Nothing but our own files: user and agent text can never run as script.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class DeskSettings:
    rasa_url: str
    rasa_token: Optional[str] = None
    session_hours: float = DEFAULT_SESSION_HOURS
    sweep_seconds: float = DEFAULT_SWEEP_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS

    @classmethod
    def from_env(cls, rasa_port: int) -> DeskSettings:
        return cls(
            rasa_url=os.environ.get("DESK_RASA_URL") or f"http://127.0.0.1:{rasa_port}",
            rasa_token=os.environ.get("RASA_AUTH_TOKEN") or None,
            session_hours=env_number("DESK_SESSION_HOURS", DEFAULT_SESSION_HOURS),
            sweep_seconds=env_number("DESK_SWEEP_SECONDS", DEFAULT_SWEEP_SECONDS),
            poll_seconds=env_number("DESK_POLL_SECONDS", DEFAULT_POLL_SECONDS),
        )


@dataclass(frozen=True)
class Login:
    agent: Agent
    token_hash: str
    csrf_token: str


SETTINGS = web.AppKey("desk_settings", DeskSettings)
ACCOUNTS = web.AppKey("desk_accounts", Accounts)
RASA = web.AppKey("desk_rasa", RasaAPI)
STOPPING = web.AppKey("desk_stopping", asyncio.Event)
FAILED_LOGINS = web.AppKey("desk_failed_logins", dict)
LOGIN = "desk_login"  # request key: the agent's Login


def add_desk(app: web.Application, settings: DeskSettings, accounts: Optional[Accounts] = None) -> web.Application:
    """Put the desk's pages and API at /agent/ on ``app``.

    Routes on the page server's own app, not a sub-application: aiohttp
    3.9's prefixed sub-applications build ``request.url``, which the yarl
    release in requirements.txt refuses for a Host header with a port.
    """
    app.middlewares.extend([security_headers, database_outage, require_login])
    app[SETTINGS] = settings
    app[ACCOUNTS] = accounts or Accounts()
    app[RASA] = RasaAPI(settings.rasa_url, settings.rasa_token)
    app[STOPPING] = asyncio.Event()
    app[FAILED_LOGINS] = {}
    routes = [
        web.get("/login", login_page, name="login"),
        web.post("/login", login_submit, name="login_submit"),
        web.get("/login.css", login_css, name="login_css"),
        web.post("/logout", logout, name="logout"),
        web.get("/", desk_page, name="desk"),
        web.get("/api/me", me, name="me"),
        web.get("/api/queue", queue, name="queue"),
        web.get("/api/events", events, name="events"),
        web.get("/api/conversations/{number}", conversation, name="conversation"),
        web.post("/api/conversations/{number}/claim", claim, name="claim"),
        web.post("/api/conversations/{number}/messages", send_message, name="send_message"),
        web.post("/api/conversations/{number}/close", close, name="close"),
        web.post("/api/conversations/{number}/transfer", transfer, name="transfer"),
    ]
    routes += [web.get(f"/{name}", static_file, name=f"file_{name}") for name in FILES]
    app.add_routes([_prefixed(route) for route in routes])
    app.router.add_get(PREFIX, to_desk)
    app.cleanup_ctx.append(_background)
    # aiohttp 3.9 types its signals' items as taking a callable, not the app.
    app.on_shutdown.append(_stop_streams)  # type: ignore[arg-type]
    return app


def _prefixed(route: web.RouteDef) -> web.RouteDef:
    return web.RouteDef(
        route.method, PREFIX + route.path, route.handler, {**route.kwargs, "name": f"desk_{route.kwargs['name']}"}
    )


def is_desk_path(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")


async def to_desk(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(f"{PREFIX}/")


# --- middlewares -----------------------------------------------------------------------


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_desk_path(request.path):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


# The service database cannot be reached (its driver says so): 503, never a 500.
DATABASE_OUTAGES = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


@web.middleware
async def database_outage(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_desk_path(request.path):
        return await handler(request)
    try:
        return await handler(request)
    except DATABASE_OUTAGES as error:
        logger.error("Desk: the service database is unreachable (%s); answered 503.", type(error).__name__)
        raise _json_error(web.HTTPServiceUnavailable, "database_unavailable") from error


@web.middleware
async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    if not is_desk_path(request.path) or (route is not None and route.name in PUBLIC_ROUTES):
        return await handler(request)
    login = await current_login(request)
    if login is None:
        if _is_api(request):
            raise _json_error(web.HTTPUnauthorized, "login_required")
        raise web.HTTPSeeOther(LOGIN_PATH)
    if request.method not in ("GET", "HEAD") and not _csrf_ok(request, login):
        raise _json_error(web.HTTPForbidden, "csrf")
    request[LOGIN] = login
    return await handler(request)


async def current_login(request: web.Request) -> Optional[Login]:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    token_hash = _token_hash(token)
    session = await asyncio.to_thread(desk.session, token_hash)
    if session is None:
        return None
    agent = request.app[ACCOUNTS].get(session.agent_id)
    if agent is None:  # the account was removed: its sessions end
        return None
    return Login(agent, token_hash, session.csrf_token)


def _csrf_ok(request: web.Request, login: Login) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    return bool(sent) and hmac.compare_digest(sent.encode(), login.csrf_token.encode())


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(f"{PREFIX}/api/")


def _json_error(kind: type[web.HTTPException], code: str, **extra: Any) -> web.HTTPException:
    return kind(text=json.dumps({"error": code, **extra}), content_type="application/json")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- logging in and out ---------------------------------------------------------------------


async def login_page(request: web.Request) -> web.StreamResponse:
    if await current_login(request) is not None:
        raise web.HTTPSeeOther(f"{PREFIX}/")
    return _login_form(no_agents=not request.app[ACCOUNTS].configured)


async def login_submit(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        raise web.HTTPForbidden(text="cross-site login refused")
    form = await request.post()
    agent_id = str(form.get("id", "")).strip()[:64]
    password = str(form.get("password", ""))[:512]
    throttle_key = f"{request.remote}|{agent_id}"
    if _too_many_failures(request.app, throttle_key):
        return _login_form(locked=True, status=429)
    agent = await asyncio.to_thread(request.app[ACCOUNTS].authenticate, agent_id, password)
    if agent is None:
        _note_failure(request.app, throttle_key)
        return _login_form(failed=True, status=401)
    request.app[FAILED_LOGINS].pop(throttle_key, None)
    token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    hours = request.app[SETTINGS].session_hours
    expires = clock.now() + timedelta(hours=hours)
    await asyncio.to_thread(desk.start_session, _token_hash(token), agent.id, csrf_token, expires)
    response = web.HTTPSeeOther(f"{PREFIX}/")
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(hours * 3600),
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=_is_https(request),
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    await asyncio.to_thread(desk.end_session, request[LOGIN].token_hash)
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path=PREFIX)
    return response


def _login_form(failed: bool = False, locked: bool = False, no_agents: bool = False, status: int = 200) -> web.Response:
    page = (STATIC_DIR / "login.html").read_text(encoding="utf-8")
    for name, shown in (("failed", failed), ("locked", locked), ("no_agents", no_agents)):
        page = page.replace(f"{{{name}_hidden}}", "" if shown else "hidden")
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)


async def login_css(request: web.Request) -> web.StreamResponse:
    return _file("login.css", "text/css")


def _same_origin(request: web.Request) -> bool:
    """The login form was posted by a page of this host (or by no browser page at all).

    Host names only: a gateway in front (nginx's ``$host``) passes the Host
    header without the port the browser used.
    """
    origin = request.headers.get("Origin")
    if not origin:
        return True
    host = request.headers.get("X-Forwarded-Host") or request.host
    return origin != "null" and urlsplit(origin).hostname == urlsplit(f"//{host}").hostname


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _too_many_failures(app: web.Application, key: str) -> bool:
    failures = app[FAILED_LOGINS].get(key)
    if not failures:
        return False
    while failures and failures[0] < time.monotonic() - FAILED_LOGIN_WINDOW_SECONDS:
        failures.popleft()
    return len(failures) >= MAX_FAILED_LOGINS


def _note_failure(app: web.Application, key: str) -> None:
    app[FAILED_LOGINS].setdefault(key, deque(maxlen=MAX_FAILED_LOGINS)).append(time.monotonic())


# --- pages -------------------------------------------------------------------------------------


async def desk_page(request: web.Request) -> web.StreamResponse:
    page = (STATIC_DIR / "desk.html").read_text(encoding="utf-8")
    return web.Response(
        text=page.replace("{csrf_token}", request[LOGIN].csrf_token), content_type="text/html", charset="utf-8"
    )


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.path.rsplit("/", 1)[-1]
    return _file(name, FILES[name])


def _file(name: str, content_type: str) -> web.Response:
    return web.Response(body=(STATIC_DIR / name).read_bytes(), content_type=content_type, charset="utf-8")


# --- the API: reading ----------------------------------------------------------------------------


async def me(request: web.Request) -> web.StreamResponse:
    login: Login = request[LOGIN]
    agents = [agent.public() for agent in request.app[ACCOUNTS].all().values()]
    return web.json_response(
        {
            **login.agent.public(),
            "agents": agents,
            "queue_timeout_minutes": desk.queue_timeout().total_seconds() / 60,
        }
    )


async def queue(request: web.Request) -> web.StreamResponse:
    return web.json_response(await asyncio.to_thread(queue_state, request[LOGIN].agent.id))


def queue_state(agent_id: str) -> dict[str, Any]:
    """The queue and the conversations this agent holds."""
    now = clock.now()
    mine = [
        {**desk.queue_entry(ticket, (), now).as_json(), "held_since": assignment.started_at.isoformat()}
        for assignment, ticket in desk.held_by(agent_id)
    ]
    return {"queue": [entry.as_json() for entry in desk.queue(now)], "mine": mine}


async def conversation(request: web.Request) -> web.StreamResponse:
    entry = await _entry(request)
    return web.json_response(await conversation_state(request, entry))


async def conversation_state(request: web.Request, entry: QueueEntry) -> dict[str, Any]:
    """Everything the agent sees of one conversation."""
    tracker = await _rasa(request.app[RASA].tracker(entry.sender_id))
    messages = await asyncio.to_thread(desk.messages_after, [entry.number])
    holder = await asyncio.to_thread(desk.holder, entry.number)
    channel = entry.channel or tracker.get("latest_input_channel")
    budget = await _budget(entry, channel)
    return {
        "ticket": entry.as_json(),
        "holder": holder.agent_id if holder else None,
        "handlers": [assignment.agent_id for assignment in await asyncio.to_thread(desk.handlers, entry.number)],
        "channel": channel,
        "paused": (tracker.get("slots") or {}).get(desk.HANDOFF_SLOT) == entry.number,
        "transcript": desk.transcript(tracker.get("events") or [], entry.number, messages),
        "wechat_budget": budget.as_json() if budget else None,
    }


# --- the API: acting -------------------------------------------------------------------------------


async def claim(request: web.Request) -> web.StreamResponse:
    agent = request[LOGIN].agent
    entry = await _entry(request)
    if not await asyncio.to_thread(desk.claim, entry.number, agent.id):
        holder = await asyncio.to_thread(desk.holder, entry.number)
        raise _json_error(web.HTTPConflict, "taken", holder=holder.agent_id if holder else None)
    joined = desk.joined_message(agent.name)
    events = slot_events(desk.paused_slots(entry.number))
    try:
        await _say(request, entry, events, joined, DeskEvent.JOINED, agent.id)
    except web.HTTPException:
        # The user could not be told: the conversation goes back to the queue.
        await asyncio.to_thread(desk.release, entry.number, agent.id)
        raise
    return web.json_response(await conversation_state(request, entry))


async def send_message(request: web.Request) -> web.StreamResponse:
    agent = request[LOGIN].agent
    entry = await _held_entry(request)
    text = desk.clean_agent_text((await _json_body(request)).get("text"))
    if text is None:
        raise _json_error(web.HTTPBadRequest, "empty_message")
    channel = entry.channel
    budget = await _budget(entry, channel)
    if budget is not None and budget.left_for_agent <= 0:
        raise _json_error(web.HTTPConflict, "wechat_budget", wechat_budget=budget.as_json())
    message = {"text": text}
    await _rasa(
        request.app[RASA].add_events(
            entry.sender_id, [bot_event(message, desk.desk_metadata(DeskEvent.REPLY, agent.id))], send=True
        )
    )
    await asyncio.to_thread(desk.file_agent_message, entry.number, agent.id, text)
    budget = await _budget(entry, channel)
    return web.json_response({"ok": True, "wechat_budget": budget.as_json() if budget else None})


async def close(request: web.Request) -> web.StreamResponse:
    agent = request[LOGIN].agent
    entry = await _held_entry(request)
    events = slot_events(desk.closing_slots(entry.number))
    await _say(request, entry, events, desk.closing_message(), DeskEvent.CLOSED, agent.id)
    if not await asyncio.to_thread(desk.close, entry.number, agent.id):
        raise _json_error(web.HTTPConflict, "not_holder")
    return web.json_response({"ok": True})


async def transfer(request: web.Request) -> web.StreamResponse:
    agent = request[LOGIN].agent
    entry = await _held_entry(request)
    target = request.app[ACCOUNTS].get(str((await _json_body(request)).get("agent") or ""))
    if target is None or target.id == agent.id:
        raise _json_error(web.HTTPBadRequest, "unknown_agent")
    if not await asyncio.to_thread(desk.transfer, entry.number, agent.id, target.id):
        raise _json_error(web.HTTPConflict, "not_holder")
    await _say(request, entry, [], desk.transferred_message(target.name), DeskEvent.TRANSFERRED, agent.id)
    return web.json_response({"ok": True, "holder": target.id})


async def _say(
    request: web.Request,
    entry: QueueEntry,
    events: list[dict[str, Any]],
    message: dict[str, Any],
    kind: str,
    agent_id: Optional[str],
) -> None:
    """Add ``events`` and the desk's ``message`` to the conversation; send it unless WeChat takes no more."""
    budget = await _budget(entry, entry.channel)
    send = budget is None or budget.left > 0
    bot = bot_event(message, desk.desk_metadata(kind, agent_id))
    await _rasa(request.app[RASA].add_events(entry.sender_id, [*events, bot], send=send))
    if send:
        await asyncio.to_thread(desk.file_desk_message, entry.number, kind, message["text"])


# --- the live event stream ------------------------------------------------------------------------------


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``queue`` (the queue and my conversations), ``message`` (a new message in mine)."""
    app = request.app
    login: Login = request[LOGIN]
    settings = app[SETTINGS]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    stream = _Stream(login, _after_id(request))
    last_write = time.monotonic()
    try:
        while not app[STOPPING].is_set():
            if await asyncio.to_thread(desk.session, login.token_hash) is None:
                await response.write(_sse("logout", {}))
                break
            for name, payload in await asyncio.to_thread(stream.changes):
                await response.write(_sse(name, payload))
                last_write = time.monotonic()
            if time.monotonic() - last_write > KEEPALIVE_SECONDS:
                await response.write(b": keep-alive\n\n")
                last_write = time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(app[STOPPING].wait(), settings.poll_seconds)
    except (ConnectionResetError, RuntimeError):
        pass  # the page went away
    return response


class _Stream:
    """What one agent's page has been sent, and what is new since."""

    def __init__(self, login: Login, after_id: int) -> None:
        self.agent_id = login.agent.id
        self.after_id = after_id
        self.sent: set[int] = set()
        self.state: Optional[dict[str, Any]] = None

    def changes(self) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = []
        state = queue_state(self.agent_id)
        comparable = _without_waits(state)
        if comparable != self.state:
            self.state = comparable
            found.append(("queue", state))
        held = [entry["number"] for entry in state["mine"]]
        for message in desk.messages_after(held, max(0, self.after_id - MESSAGE_LOOKBACK)):
            if message.id in self.sent:
                continue
            self.sent.add(message.id)
            self.after_id = max(self.after_id, message.id)
            found.append(("message", desk.message_item(message)))
        return found


def _without_waits(state: dict[str, Any]) -> dict[str, Any]:
    # Waiting times change every second; the page counts them itself.
    return {
        key: [{k: v for k, v in entry.items() if k != "waited_seconds"} for entry in entries]
        for key, entries in state.items()
    }


def _after_id(request: web.Request) -> int:
    try:
        return max(0, int(request.query.get("after", "0")))
    except ValueError:
        return 0


def _sse(name: str, payload: Any) -> bytes:
    # ASCII JSON: no character of a message can end an event line early in any client.
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


# --- the queue timeout ----------------------------------------------------------------------------------


async def sweep_once(app: web.Application) -> int:
    """Tell each user nobody claimed in time that they can leave a number or a message; how many were told."""
    told = 0
    for ticket in await asyncio.to_thread(desk.overdue):
        if not await asyncio.to_thread(desk.mark_timed_out, ticket.number):
            continue  # another desk process tells this one
        try:
            told += await _tell_timeout(app, ticket.number, ticket.sender_id)
        except RasaUnavailable as problem:
            logger.warning("Queue timeout of %s not sent, will retry: %s", ticket.number, problem)
            await asyncio.to_thread(desk.unmark_timed_out, ticket.number)
    return told


async def _tell_timeout(app: web.Application, number: str, sender_id: str) -> int:
    tracker = await app[RASA].tracker(sender_id)
    if (tracker.get("slots") or {}).get(desk.HANDOFF_SLOT) != number:
        return 0  # the conversation is no longer waiting on this ticket (an old one, or given back)
    message = desk.timeout_message(number)
    await app[RASA].add_events(sender_id, [bot_event(message, desk.desk_metadata(DeskEvent.TIMEOUT))], send=True)
    await asyncio.to_thread(desk.file_desk_message, number, DeskEvent.TIMEOUT, message["text"])
    return 1


async def _sweep_forever(app: web.Application) -> None:
    while not app[STOPPING].is_set():
        if app[ACCOUNTS].configured:
            try:
                await sweep_once(app)
            except Exception:  # a database hiccup must not end the sweeps
                logger.exception("Queue timeout sweep failed")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(app[STOPPING].wait(), app[SETTINGS].sweep_seconds)


async def _background(app: web.Application) -> AsyncIterator[None]:
    """The queue-timeout sweeps while the server runs."""
    sweeps = asyncio.get_running_loop().create_task(_sweep_forever(app))
    yield
    app[STOPPING].set()
    sweeps.cancel()
    await asyncio.gather(sweeps, return_exceptions=True)
    await app[RASA].close()


async def _stop_streams(app: web.Application) -> None:
    """Open event streams end at shutdown, before aiohttp waits for its handlers."""
    app[STOPPING].set()


# --- helpers ----------------------------------------------------------------------------------------------


async def _entry(request: web.Request) -> QueueEntry:
    entry = await asyncio.to_thread(desk.entry_of, request.match_info["number"])
    if entry is None:
        raise _json_error(web.HTTPNotFound, "no_such_conversation")
    return entry


async def _held_entry(request: web.Request) -> QueueEntry:
    """The conversation, if this agent holds it (403 otherwise)."""
    entry = await _entry(request)
    holder = await asyncio.to_thread(desk.holder, entry.number)
    if holder is None or holder.agent_id != request[LOGIN].agent.id:
        raise _json_error(web.HTTPForbidden, "not_holder", holder=holder.agent_id if holder else None)
    return entry


async def _budget(entry: QueueEntry, channel: Optional[str]) -> Optional[WeChatBudget]:
    if channel != desk.WECHAT_CHANNEL:
        return None
    return await asyncio.to_thread(desk.wechat_budget, entry.number, entry.created_at)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _json_error(web.HTTPBadRequest, "invalid_json") from None
    if not isinstance(body, dict):
        raise _json_error(web.HTTPBadRequest, "invalid_json")
    return body


async def _rasa(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except RasaUnavailable as problem:
        logger.error("Desk could not reach the conversation: %s", problem)
        raise _json_error(web.HTTPServiceUnavailable, "rasa_unavailable") from problem
