"""WeChat Official Account (微信公众号) input channel: ``/webhooks/wechat/webhook``.

WeChat posts each follower's message as signed XML and gives the server 5
seconds to answer in the HTTP response (a "passive reply"). The bot usually
answers in well under a second, so its messages go back in that reply. When
it needs longer than ``reply_timeout``, the channel answers ``success`` (so
WeChat neither retries nor shows an error) and sends the answer through the
customer-service message API (:mod:`bot.channels.wechat_api`) once it is ready.

WeChat has no buttons in plain messages: the bot's buttons become numbered
lines, and a reply with just that number sends the button's payload. When a
store of the conversations is unreachable the passive reply is the outage
message with the hotline (bot/channels/outage.py).

The MsgIds seen and the pending choices are kept in the shared state
(:mod:`bot.stores.shared_state`): in the production profile every instance
sees them, so a retry or a choice number landing on another instance is
understood there too.

All three of WeChat's message modes work: plaintext (明文模式), compatibility
(兼容模式) and safe (安全模式), chosen by ``mode``; encrypted messages are
opened and replies sealed by :mod:`bot.channels.wechat_crypto`. A message in a
mode the channel is not set up for is refused with a 400 that names both modes.

Configured in credentials.yml as ``bot.channels.wechat.WeChatInput`` with
``token`` (required: without it every request is refused), ``app_id``,
``app_secret``, ``api_base``, ``mode`` (``plain``, ``compatible`` or ``safe``),
``encoding_aes_key`` and ``previous_encoding_aes_key`` (the key being rotated
out), and optionally ``reply_timeout`` (4.5 s), ``max_body_bytes`` (64 KB),
``dedupe_ttl`` (300 s), ``choice_ttl`` (1800 s). Each option can instead name
the environment variable it is read from: ``token_env: WECHAT_TOKEN`` and so
on, as credentials.yml does. The channel reads those itself when Rasa creates
it, so an unset variable leaves the channel refusing; a ``${WECHAT_TOKEN}`` in
credentials.yml would stop Rasa (``rasa run``, ``rasa shell``) from starting at
all while it is unset. A mode that needs a key but has none leaves the channel
off: the log says why (:class:`~bot.channels.wechat_crypto.WeChatConfigurationError`)
and WeChat's requests get a 503 that says it too; the other channels answer.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import os
import re
import time
import xml.parsers.expat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import knowledge
from bot.channels.guard import shared_guard
from bot.channels.outage import ConversationNotRecorded, answer_outages_with_503
from bot.channels.wechat_api import DEFAULT_API_BASE, WeChatAPI
from bot.channels.wechat_crypto import (
    COMPATIBLE,
    MODE_NAMES,
    MODES,
    PLAIN,
    SAFE,
    MessageCrypto,
    UndecryptableMessage,
    WeChatConfigurationError,
    aes_key,
)
from bot.knowledge.texts import fill, response_placeholders
from bot.stores.shared_state import ExpiringValues, shared_state
from bot.text import strip_invisible, to_half_width

logger = logging.getLogger(__name__)

DEFAULT_REPLY_TIMEOUT = 4.5  # WeChat gives up after 5 s
WECHAT_PATIENCE_SECONDS = 5.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_DEDUPE_TTL = 300.0  # WeChat retries 3 times, 5 s apart
DEFAULT_CHOICE_TTL = 1800.0
GREETING_PAYLOAD = "/greet"
# The answer WeChat expects when there is nothing (more) to say.
SUCCESS = "success"
NOT_CONFIGURED = "WeChat channel not configured: set its token (WECHAT_TOKEN)."
# "1", "１", " 2 ", "3." or "3、": the whole message is a choice number.
_CHOICE_NUMBER = re.compile(r"^(\d{1,2})\s*[.。、]?$")
# Characters XML 1.0 cannot carry, even in CDATA.
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@functools.cache
def channel_texts() -> dict[str, str]:
    """The channel's own user-facing texts, facts filled in from bot/knowledge/facts.yml."""
    placeholders = response_placeholders()
    return {name: fill(text, placeholders) for name, text in knowledge.load("channel_texts")["wechat"].items()}


# --- signature -------------------------------------------------------------


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's signature: sha1 hex of token, timestamp and nonce, sorted and concatenated."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode("utf-8")).hexdigest()


def is_signed_by_wechat(token: str, args: dict[str, str]) -> bool:
    """Only WeChat knows the token: a request without a matching signature is not from it."""
    signature, timestamp, nonce = (args.get(name) for name in ("signature", "timestamp", "nonce"))
    if not (token and signature and timestamp and nonce):
        return False
    expected = wechat_signature(token, timestamp, nonce)
    return hmac.compare_digest(expected.encode("utf-8"), signature.lower().encode("utf-8"))


# --- XML in and out ----------------------------------------------------------


class MalformedMessage(ValueError):
    """The body is not a WeChat message we can read."""


class RefusedMessage(ValueError):
    """A message from WeChat the channel cannot take as it is set up: the text says why and what to set.

    It goes to WeChat as the 400's body and into the log, for the operator.
    """


class ForgedMessage(ValueError):
    """An encrypted message without WeChat's msg_signature."""


def parse_wechat_xml(body: bytes) -> dict[str, str]:
    """The root element's children as name -> text.

    Expat with any DTD refused: no entity can be declared, so none can expand
    (billion laughs) or point at a file. CDATA and escaped text are plain text.
    """
    fields: dict[str, str] = {}
    depth = 0
    chunks: list[str] = []

    def refuse_dtd(*_: Any) -> NoReturn:
        raise MalformedMessage("DOCTYPE/ENTITY declarations are not accepted")

    def start(name: str, _attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth == 2:
            chunks.clear()

    def end(name: str) -> None:
        nonlocal depth
        if depth == 2:
            fields[name] = "".join(chunks)
        depth -= 1

    def text(data: str) -> None:
        if depth == 2:
            chunks.append(data)

    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError as error:
        raise MalformedMessage(f"not well-formed XML: {error}") from error
    return fields


def _cdata(text: str) -> str:
    text = _NOT_XML_CHARS.sub("", text)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def passive_text_reply(fields: dict[str, str], content: str, now: Optional[float] = None) -> str:
    """WeChat's passive reply: a text message back to the sender, addresses swapped."""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(fields['FromUserName'])}</ToUserName>"
        f"<FromUserName>{_cdata(fields['ToUserName'])}</FromUserName>"
        f"<CreateTime>{int(time.time() if now is None else now)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


def passive_transfer_reply(fields: dict[str, str], now: Optional[float] = None) -> str:
    """WeChat's passive reply that hands the message to the account's own customer-service agents."""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(fields['FromUserName'])}</ToUserName>"
        f"<FromUserName>{_cdata(fields['ToUserName'])}</FromUserName>"
        f"<CreateTime>{int(time.time() if now is None else now)}</CreateTime>"
        "<MsgType><![CDATA[transfer_customer_service]]></MsgType>"
        "</xml>"
    )


class _TransferToAgents(str):
    """The bot's answer when the handoff goes to WeChat's own agents: no text of its own."""


# The handoff action sends this custom message when the account's own
# customer-service agents (微信客服) take handoffs (WECHAT_TRANSFER_CUSTOMER_SERVICE,
# bot/services/handoff.py WECHAT_TRANSFER): the passive reply then transfers the
# user to them, and the bot's texts go through the customer-service message API.
TRANSFER_MESSAGE = {"wechat": "transfer_customer_service"}
TRANSFER = _TransferToAgents("")


# --- message modes: plaintext, compatibility, safe ----------------------------------


@dataclass(frozen=True)
class Envelope:
    """A request's message fields, and the key its passive reply is sealed with (None: plaintext)."""

    fields: dict[str, str]
    reply_key: Optional[bytes] = None


def message_crypto(
    mode: str, token: str, app_id: str, encoding_aes_key: str, previous_encoding_aes_key: str
) -> Optional[MessageCrypto]:
    """The crypto ``mode`` needs (None in plaintext mode); WeChatConfigurationError for settings that cannot work."""
    if mode not in MODES:
        raise WeChatConfigurationError(f"WECHAT_MODE must be one of {', '.join(MODES)}, not {mode!r}.")
    if mode == PLAIN:
        return None
    if not encoding_aes_key:
        raise WeChatConfigurationError(
            f"WECHAT_MODE={mode} needs WECHAT_ENCODING_AES_KEY, the 43-character EncodingAESKey "
            "(消息加解密密钥) from the WeChat console: without it no message can be read."
        )
    if not app_id:
        raise WeChatConfigurationError(
            f"WECHAT_MODE={mode} needs WECHAT_APP_ID: every encrypted message names the AppID it is for."
        )
    previous = (
        aes_key(previous_encoding_aes_key, "WECHAT_PREVIOUS_ENCODING_AES_KEY") if previous_encoding_aes_key else None
    )
    return MessageCrypto(token, app_id, aes_key(encoding_aes_key, "WECHAT_ENCODING_AES_KEY"), previous)


def is_encrypted(args: dict[str, Optional[str]], fields: dict[str, str]) -> bool:
    """Whether WeChat encrypted this message (``encrypt_type=aes``; an Encrypt element says so too)."""
    encrypt_type = (args.get("encrypt_type") or "").strip().lower()
    if encrypt_type == "aes":
        return True
    if encrypt_type not in ("", "raw"):
        raise MalformedMessage(f"unknown encrypt_type {encrypt_type[:20]!r}")
    return "Encrypt" in fields


def accounts_mode(fields: dict[str, str]) -> str:
    """The mode the account is in, as far as an encrypted message shows it."""
    # Compatibility mode sends the plaintext fields beside Encrypt; safe mode only ToUserName.
    return COMPATIBLE if "FromUserName" in fields else SAFE


def mode_mismatch(channel_mode: str, account_mode: str) -> str:
    """The refusal of a message in ``account_mode`` by a channel in ``channel_mode``: both named, and what to set."""
    if account_mode == PLAIN:
        remedy = "set WECHAT_MODE=plain (or compatible), or switch the account to safe mode in the WeChat console"
    else:
        remedy = (
            f"set WECHAT_MODE={account_mode} and WECHAT_ENCODING_AES_KEY (the account's EncodingAESKey), "
            "or switch the account back to plaintext mode in the WeChat console"
        )
    return (
        f"WeChat sent a message in {MODE_NAMES[account_mode]} but this channel is set up for "
        f"{MODE_NAMES[channel_mode]}: {remedy}."
    )


# --- what a WeChat message asks of the bot -------------------------------------

ASK_BOT = "ask_bot"  # text for the bot
UNREADABLE = "unreadable"  # polite "text only" answer, the bot is not involved
IGNORE = "ignore"  # answer success, say nothing


@dataclass(frozen=True)
class Incoming:
    """One message or event from WeChat, reduced to what the channel acts on."""

    openid: str
    account: str
    kind: str
    dedupe_key: tuple[str, ...]
    text: Optional[str] = None
    msg_id: Optional[str] = None
    is_subscription: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def read_incoming(fields: dict[str, str]) -> Incoming:
    """What the message asks for: text for the bot, the polite text-only answer, or nothing."""
    try:
        openid, account, msg_type = fields["FromUserName"], fields["ToUserName"], fields["MsgType"]
    except KeyError as missing:
        raise MalformedMessage(f"no {missing.args[0]}") from None
    if not (openid and account and msg_type):
        raise MalformedMessage("empty FromUserName, ToUserName or MsgType")
    msg_type = msg_type.strip().lower()
    msg_id = fields.get("MsgId") or None
    metadata = {"wechat": {"msg_id": msg_id, "official_account": account, "msg_type": msg_type}}
    common: dict[str, Any] = dict(openid=openid, account=account, msg_id=msg_id, metadata=metadata)

    if msg_type == "event":
        event = fields.get("Event", "").strip().lower()
        metadata["wechat"]["event"] = event
        # Events have no MsgId: WeChat advises FromUserName + CreateTime.
        key: tuple[str, ...] = ("event", account, openid, fields.get("CreateTime", ""), event)
        if event == "subscribe":
            return Incoming(kind=ASK_BOT, dedupe_key=key, text=GREETING_PAYLOAD, is_subscription=True, **common)
        return Incoming(kind=IGNORE, dedupe_key=key, **common)

    key = (
        ("message", account, msg_id) if msg_id else ("message", account, openid, fields.get("CreateTime", ""), msg_type)
    )
    if msg_type == "text":
        text = fields.get("Content", "")
    elif msg_type == "voice":
        text = fields.get("Recognition", "")  # WeChat's speech recognition, when switched on
    else:
        text = ""
    if text.strip():
        return Incoming(kind=ASK_BOT, dedupe_key=key, text=text, **common)
    return Incoming(kind=UNREADABLE, dedupe_key=key, **common)


# --- the bot's messages as WeChat text ----------------------------------------------


def render_bot_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """One WeChat text for all of the bot's messages, and the choices its buttons became.

    Messages are joined by a blank line; buttons with a payload become
    numbered lines (numbering runs on across messages) followed by one hint.
    """
    parts: list[str] = []
    choices: list[dict[str, Any]] = []
    last_part_with_choices = -1
    for message in messages:
        lines = [line for line in (message.get("text"), message.get("image")) if line]
        for button in message.get("buttons") or []:
            if button.get("payload"):
                choices.append(button)
                lines.append(f"{len(choices)}. {button.get('title', '')}")
                last_part_with_choices = len(parts)
            elif button.get("url"):
                lines.append(f"{button.get('title', '')} {button['url']}".strip())
        if lines:
            parts.append("\n".join(lines))
    if choices:
        parts[last_part_with_choices] += "\n" + channel_texts()["choice_hint"]
    return "\n\n".join(parts), choices


def chosen_payload(text: str, choices: Optional[list[dict[str, Any]]]) -> Optional[str]:
    """The payload of the choice ``text`` names by its number, or None if it names none."""
    match = _CHOICE_NUMBER.match(strip_invisible(to_half_width(text)).strip())
    if not (match and choices):
        return None
    number = int(match.group(1))
    return choices[number - 1]["payload"] if 1 <= number <= len(choices) else None


class WeChatOutput(OutputChannel):
    """Sends the bot's messages through the customer-service message API.

    Used for answers that missed the passive-reply window and for messages
    Rasa pushes on its own (HTTP API with ``output_channel=wechat``).
    """

    def __init__(self, api: WeChatAPI, choices: ExpiringValues) -> None:
        self._api = api
        self._choices = choices

    @classmethod
    def name(cls) -> str:
        return "wechat"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._api.send_text(recipient_id, text)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        content, choices = render_bot_messages([{"text": text, "buttons": buttons}])
        if choices:
            await self._choices.put(recipient_id, choices)
        await self._api.send_text(recipient_id, content)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._api.send_text(recipient_id, image)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        logger.warning("WeChat channel cannot show custom JSON messages; dropped one for %s.", recipient_id)


# --- the channel -----------------------------------------------------------------------


class WeChatInput(InputChannel):
    """WeChat Official Account webhook: signed XML in, passive XML reply or API message out."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> WeChatInput:
        # An option is given as a value (``token: ...``) or as the environment
        # variable to read it from (``token_env: WECHAT_TOKEN``); unset or empty
        # means not given.
        credentials = credentials or {}

        def option(name: str) -> str:
            if name in credentials:
                return _text(credentials[name])
            variable = _text(credentials.get(f"{name}_env"))
            return _text(os.environ.get(variable)) if variable else ""

        return cls(
            token=option("token"),
            app_id=option("app_id"),
            app_secret=option("app_secret"),
            api_base=option("api_base") or DEFAULT_API_BASE,
            reply_timeout=_number(option("reply_timeout"), DEFAULT_REPLY_TIMEOUT),
            max_body_bytes=int(_number(option("max_body_bytes"), DEFAULT_MAX_BODY_BYTES)),
            dedupe_ttl=_number(option("dedupe_ttl"), DEFAULT_DEDUPE_TTL),
            choice_ttl=_number(option("choice_ttl"), DEFAULT_CHOICE_TTL),
            mode=option("mode").lower() or PLAIN,
            encoding_aes_key=option("encoding_aes_key"),
            previous_encoding_aes_key=option("previous_encoding_aes_key"),
        )

    def __init__(
        self,
        token: str,
        app_id: str = "",
        app_secret: str = "",
        api_base: str = DEFAULT_API_BASE,
        reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        dedupe_ttl: float = DEFAULT_DEDUPE_TTL,
        choice_ttl: float = DEFAULT_CHOICE_TTL,
        mode: str = PLAIN,
        encoding_aes_key: str = "",
        previous_encoding_aes_key: str = "",
    ) -> None:
        self.token = token
        self.mode = mode
        self.crypto, self.not_started = self._crypto_or_why_not(
            mode, token, app_id, encoding_aes_key, previous_encoding_aes_key
        )
        self.reply_timeout = reply_timeout
        self.max_body_bytes = max_body_bytes
        self.api = WeChatAPI(app_id, app_secret, api_base)
        state = shared_state()
        self._seen = state.expiring_values("wechat_seen", dedupe_ttl)
        self._choices = state.expiring_values("wechat_choices", choice_ttl)
        self._output = WeChatOutput(self.api, self._choices)
        # Answers still being worked on after their HTTP reply: kept referenced
        # so the event loop does not drop them.
        self._background: set[asyncio.Task] = set()
        if not self.not_started:
            self._log_mode(bool(encoding_aes_key), bool(previous_encoding_aes_key))
            self._warn_about_configuration()

    @staticmethod
    def _crypto_or_why_not(*settings: str) -> tuple[Optional[MessageCrypto], str]:
        """The mode's crypto; or, for settings that cannot work, why the channel does not start.

        Only this channel stays off: REST, socket.io and the chat page keep
        answering while the operator fixes the WeChat settings.
        """
        try:
            return message_crypto(*settings), ""
        except WeChatConfigurationError as error:
            logger.error(
                "WeChat channel not started: %s Its requests get 503 until this is set; the other channels work.", error
            )
            return None, str(error)

    def get_output_channel(self) -> Optional[OutputChannel]:
        return self._output if self.api.configured else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        on_new_message = shared_guard().wrap(on_new_message)
        wechat_webhook = Blueprint(f"wechat_webhook_{id(self)}", __name__)
        answer_outages_with_503(wechat_webhook)

        @wechat_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @wechat_webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            refusal = self._refusal(request)
            if refusal:
                return refusal
            echostr = request.args.get("echostr")
            if not echostr:
                return response.text("missing echostr", status=400)
            return response.text(echostr)

        @wechat_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refusal = self._refusal(request)
            if refusal:
                return refusal
            if self._is_too_large(request):
                return response.text("message too large", status=413)
            try:
                envelope = self._open(request)
                incoming = read_incoming(envelope.fields)
            except ForgedMessage as error:
                logger.warning("WeChat message refused: %s", error)
                return response.text("invalid msg_signature", status=403)
            except RefusedMessage as error:
                logger.warning("WeChat message refused: %s", error)
                return response.text(str(error), status=400)
            except MalformedMessage as error:
                logger.warning("WeChat message refused: %s", error)
                return response.text("malformed message", status=400)
            if not await self._seen.remember_first_time(":".join(incoming.dedupe_key)):
                # WeChat's retry (here or on another instance): already being answered.
                # "success" needs no encryption in any mode.
                return response.text(SUCCESS)
            if incoming.kind == IGNORE:
                return response.text(SUCCESS)
            if incoming.kind == UNREADABLE:
                return self._passive_reply(envelope, channel_texts()["unsupported_message"])
            content = await self._answer_in_time(incoming, on_new_message)
            if content is TRANSFER:
                return self._sealed_reply(envelope, passive_transfer_reply(envelope.fields))
            return self._passive_reply(envelope, content) if content else response.text(SUCCESS)

        return wechat_webhook

    def _refusal(self, request: Request) -> Optional[HTTPResponse]:
        if self.not_started:
            return response.text(f"WeChat channel not started: {self.not_started}", status=503)
        if not self.token:
            return response.text(NOT_CONFIGURED, status=403)
        args = {name: request.args.get(name) for name in ("signature", "timestamp", "nonce")}
        if not is_signed_by_wechat(self.token, args):
            logger.warning("WeChat request with a missing or wrong signature refused.")
            return response.text("invalid signature", status=403)
        return None

    def _open(self, request: Request) -> Envelope:
        """The message's fields, decrypted when WeChat encrypted them; a mode the channel is not in is refused."""
        fields = parse_wechat_xml(request.body)
        if not is_encrypted(request.args, fields):
            if self.mode == SAFE:
                raise RefusedMessage(mode_mismatch(SAFE, PLAIN))
            return Envelope(fields)
        if self.crypto is None:
            raise RefusedMessage(mode_mismatch(self.mode, accounts_mode(fields)))
        encrypt = fields.get("Encrypt")
        if not encrypt:
            raise MalformedMessage("encrypt_type=aes without an Encrypt element")
        args = {name: request.args.get(name) or "" for name in ("msg_signature", "timestamp", "nonce")}
        if not self.crypto.is_signed(args["msg_signature"], args["timestamp"], args["nonce"], encrypt):
            raise ForgedMessage("encrypted message with a missing or wrong msg_signature")
        try:
            decrypted = self.crypto.decrypt(encrypt)
        except UndecryptableMessage as error:
            raise RefusedMessage(
                f"encrypted message not readable: {error}. Check WECHAT_ENCODING_AES_KEY and WECHAT_APP_ID "
                "(and WECHAT_PREVIOUS_ENCODING_AES_KEY right after changing the key)."
            ) from None
        if decrypted.with_previous_key:
            logger.info(
                "WeChat message opened with WECHAT_PREVIOUS_ENCODING_AES_KEY: the key change is still settling."
            )
        return Envelope(parse_wechat_xml(decrypted.xml), reply_key=decrypted.key)

    def _passive_reply(self, envelope: Envelope, content: str) -> HTTPResponse:
        """The text back to the sender; sealed with the request's key when WeChat encrypted the request."""
        return self._sealed_reply(envelope, passive_text_reply(envelope.fields, content))

    def _sealed_reply(self, envelope: Envelope, xml: str) -> HTTPResponse:
        if envelope.reply_key is not None and self.crypto is not None:
            xml = self.crypto.encrypt_reply(xml, envelope.reply_key)
        return response.text(xml, content_type="application/xml; charset=utf-8")

    def _is_too_large(self, request: Request) -> bool:
        declared = request.headers.get("content-length", "0")
        return (declared.isdigit() and int(declared) > self.max_body_bytes) or len(
            request.body or b""
        ) > self.max_body_bytes

    async def _answer_in_time(
        self, incoming: Incoming, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Optional[str]:
        """The answer if the bot finishes within reply_timeout; else None and it goes by API later."""
        answer = asyncio.get_running_loop().create_task(self._ask_bot(incoming, on_new_message))
        self._keep_until_done(answer)
        try:
            return await asyncio.wait_for(asyncio.shield(answer), self.reply_timeout)
        except asyncio.TimeoutError:
            logger.info("Bot slower than %.1fs for %s: answering through the API.", self.reply_timeout, incoming.openid)
            self._send_by_api_when_ready(answer, incoming.openid)
            return None
        except asyncio.CancelledError:
            # WeChat hung up early: the answer must still reach the user.
            self._send_by_api_when_ready(answer, incoming.openid)
            raise

    async def _ask_bot(self, incoming: Incoming, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> str:
        """Run the bot on the message; its messages rendered as one WeChat text."""
        text = chosen_payload(incoming.text or "", await self._choices.get(incoming.openid)) or incoming.text
        collector = CollectingOutputChannel()
        try:
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    incoming.openid,
                    input_channel=self.name(),
                    message_id=incoming.msg_id,
                    metadata=incoming.metadata,
                )
            )
        except ConversationNotRecorded as outage:
            return outage.reply
        except Exception:
            logger.exception("The bot failed on a WeChat message from %s.", incoming.openid)
            return channel_texts()["welcome" if incoming.is_subscription else "bot_unavailable"]
        content, choices = render_bot_messages(collector.messages)
        if choices:
            await self._choices.put(incoming.openid, choices)
        else:
            await self._choices.forget(incoming.openid)
        if any(message.get("custom") == TRANSFER_MESSAGE for message in collector.messages):
            # The passive reply is the transfer itself: the bot's words go through the API.
            if content:
                self._keep_until_done(
                    asyncio.get_running_loop().create_task(self._output.send_text_message(incoming.openid, content))
                )
            return TRANSFER
        return content

    def _send_by_api_when_ready(self, answer: asyncio.Task[str], openid: str) -> None:
        async def send() -> None:
            content = await answer
            if content is TRANSFER:
                logger.warning("Handoff to WeChat's agents for %s came too late for the passive reply.", openid)
            elif content:
                await self._output.send_text_message(openid, content)

        self._keep_until_done(asyncio.get_running_loop().create_task(send()))

    def _keep_until_done(self, task: asyncio.Task) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _log_mode(self, has_key: bool, has_previous_key: bool) -> None:
        if self.mode == PLAIN:
            logger.info(
                "WeChat channel in %s: encrypted messages are refused (WECHAT_MODE=compatible or safe reads them).",
                MODE_NAMES[PLAIN],
            )
            if has_key:
                logger.warning("WECHAT_ENCODING_AES_KEY is set but WECHAT_MODE is plain: the key is not used.")
            return
        logger.info(
            "WeChat channel in %s: messages opened and replies sealed with WECHAT_ENCODING_AES_KEY%s%s.",
            MODE_NAMES[self.mode],
            " or WECHAT_PREVIOUS_ENCODING_AES_KEY" if has_previous_key else "",
            "; plaintext messages refused" if self.mode == SAFE else "; plaintext messages answered in plaintext",
        )

    def _warn_about_configuration(self) -> None:
        if not self.token:
            logger.warning("WeChat channel has no token: it refuses every request.")
        elif not self.api.configured:
            logger.warning(
                "WeChat channel has no app_id/app_secret: answers slower than %.1fs are lost.", self.reply_timeout
            )
        if self.reply_timeout >= WECHAT_PATIENCE_SECONDS:
            logger.warning(
                "WeChat reply_timeout %.1fs: WeChat gives up after %.0fs and retries.",
                self.reply_timeout,
                WECHAT_PATIENCE_SECONDS,
            )


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _number(value: Any, default: float) -> float:
    return float(value) if _text(value) else default
