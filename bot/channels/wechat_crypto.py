"""WeChat's message encryption (消息加解密): compatibility mode (兼容模式) and safe mode (安全模式).

An Official Account chooses one of three message modes in its admin console.
In plaintext mode (明文模式) messages are plain XML. In safe mode the body
carries only ``ToUserName`` and ``Encrypt``; in compatibility mode it carries
the plaintext fields and ``Encrypt`` side by side. Either way an encrypted
request comes with ``encrypt_type=aes`` and ``msg_signature`` (sha1 of the
token, timestamp, nonce and the ciphertext), and the passive reply must be
encrypted the same way.

``Encrypt`` is base64 of AES-256-CBC (key: the base64-decoded 43-character
EncodingAESKey, IV: its first 16 bytes) over 16 random bytes, the message's
length (4 bytes, network order), the message XML and the AppID, PKCS#7-padded
to 32-byte blocks. The cipher and the padding are the ``cryptography``
package's; this module only lays the fields out and checks them: the
signature, the padding, the length and the AppID inside the payload.

An account may change its EncodingAESKey at any time while messages
encrypted with the old one are still in flight (retries), so a previous key
is tried after the current one, and the reply uses the key that opened the
request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import time
from dataclasses import dataclass
from typing import Optional

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from rasa.shared.exceptions import RasaException

PLAIN = "plain"
COMPATIBLE = "compatible"
SAFE = "safe"
MODES = (PLAIN, COMPATIBLE, SAFE)
# How the log and the refusals name each mode: WeChat's console shows the Chinese.
MODE_NAMES = {
    PLAIN: "plaintext mode (明文模式)",
    COMPATIBLE: "compatibility mode (兼容模式)",
    SAFE: "safe mode (安全模式)",
}
ENCODING_AES_KEY_CHARS = 43
_AES_KEY_BYTES = 32
_RANDOM_PREFIX_BYTES = 16
_LENGTH_BYTES = 4
# WeChat pads to 32-byte blocks (PKCS#7 over 256 bits), not AES's 16.
_PADDING_BITS = 256
KEY_NAMES = ("current key", "previous key")


class WeChatConfigurationError(RasaException):
    """The WeChat channel's settings cannot work: Rasa stops with this message instead of starting."""


class UndecryptableMessage(ValueError):
    """An encrypted message this account's keys do not open; the text says why."""


def aes_key(encoding_aes_key: str, setting: str) -> bytes:
    """The AES key in an EncodingAESKey (43 characters of base64 without its final '=')."""
    if len(encoding_aes_key) != ENCODING_AES_KEY_CHARS:
        raise WeChatConfigurationError(
            f"{setting} must be the {ENCODING_AES_KEY_CHARS}-character EncodingAESKey (消息加解密密钥) "
            f"from the WeChat console, not {len(encoding_aes_key)} characters."
        )
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != _AES_KEY_BYTES:
        raise WeChatConfigurationError(f"{setting} is not an EncodingAESKey: only letters and digits are allowed.")
    return key


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """WeChat's signature of an encrypted message: sha1 hex of the four values, sorted and joined."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Decrypted:
    """The message XML inside ``Encrypt``, and the key that opened it (the reply is sealed with it)."""

    xml: bytes
    key: bytes
    with_previous_key: bool


class MessageCrypto:
    """Opens WeChat's encrypted messages and seals passive replies, for one account."""

    def __init__(self, token: str, app_id: str, key: bytes, previous_key: Optional[bytes] = None) -> None:
        self.token = token
        self.app_id = app_id
        self._keys = [key] + ([previous_key] if previous_key and previous_key != key else [])

    def is_signed(self, signature: Optional[str], timestamp: str, nonce: str, encrypt: str) -> bool:
        """True when ``signature`` is the msg_signature of ``encrypt``: only WeChat knows the token."""
        if not (self.token and signature):
            return False
        expected = msg_signature(self.token, timestamp, nonce, encrypt)
        return hmac.compare_digest(expected.encode("utf-8"), signature.lower().encode("utf-8"))

    def decrypt(self, encrypt: str) -> Decrypted:
        """The message in ``encrypt``, by the current key or else the previous one.

        A key opens a message only if the padding, the length and the AppID
        all check out; otherwise each key's reason is raised.
        """
        ciphertext = _ciphertext(encrypt)
        reasons: dict[str, str] = {}
        for index, key in enumerate(self._keys):
            try:
                return Decrypted(self._open(ciphertext, key), key, with_previous_key=index > 0)
            except UndecryptableMessage as error:
                reasons[KEY_NAMES[index]] = str(error)
        if len(set(reasons.values())) == 1:
            raise UndecryptableMessage(next(iter(reasons.values())))
        raise UndecryptableMessage("; ".join(f"{name}: {reason}" for name, reason in reasons.items()))

    def encrypt_reply(self, xml: str, key: bytes, timestamp: Optional[str] = None) -> str:
        """The passive reply ``xml`` sealed as WeChat expects it: Encrypt, MsgSignature, TimeStamp, Nonce."""
        message = xml.encode("utf-8")
        payload = (
            secrets.token_bytes(_RANDOM_PREFIX_BYTES)
            + struct.pack("!I", len(message))
            + message
            + self.app_id.encode("utf-8")
        )
        padder = padding.PKCS7(_PADDING_BITS).padder()
        padded = padder.update(payload) + padder.finalize()
        encryptor = _cipher(key).encryptor()
        encrypt = base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")
        timestamp = timestamp or str(int(time.time()))
        nonce = str(secrets.randbelow(10**10))
        signature = msg_signature(self.token, timestamp, nonce, encrypt)
        # Base64, hex digits and decimal digits: nothing here needs escaping.
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

    def _open(self, ciphertext: bytes, key: bytes) -> bytes:
        decryptor = _cipher(key).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(_PADDING_BITS).unpadder()
        try:
            payload = unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise UndecryptableMessage("bad padding (wrong EncodingAESKey, or a damaged message)") from None
        header = _RANDOM_PREFIX_BYTES + _LENGTH_BYTES
        if len(payload) < header:
            raise UndecryptableMessage("too short to hold a message")
        (length,) = struct.unpack("!I", payload[_RANDOM_PREFIX_BYTES:header])
        if length > len(payload) - header:
            raise UndecryptableMessage("the message length inside is longer than the payload")
        app_id = payload[header + length :]
        if not hmac.compare_digest(app_id, self.app_id.encode("utf-8")):
            raise UndecryptableMessage("encrypted for another AppID than WECHAT_APP_ID")
        return payload[header : header + length]


def _ciphertext(encrypt: str) -> bytes:
    try:
        ciphertext = base64.b64decode(encrypt.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise UndecryptableMessage("Encrypt is not base64") from None
    # CBC works on whole 16-byte blocks; WeChat's padding makes whole 32-byte ones.
    if not ciphertext or len(ciphertext) % (_PADDING_BITS // 8):
        raise UndecryptableMessage("truncated ciphertext (not whole 32-byte blocks)")
    return ciphertext


def _cipher(key: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))
