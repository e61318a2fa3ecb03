"""The library benchmark's baselines: what a user would run instead of zego-token.

- ``official_cbc`` and ``official_gcm`` behave like ZEGO's two official Python generators
  (``token04.py`` in zego_server_assistant, the older CBC version and the current GCM one), read
  and rewritten for this benchmark, not copied. Like them, each call checks its arguments with
  ``type(...) !=``, dumps a dict with ``json.dumps``, draws its nonce and IV with ``random``
  (CBC: ``getrandbits(31)`` and 16 characters of ``[0-9a-f]`` picked with ``random.random()``;
  GCM: ``randint(1, 90000000)`` and 12 characters of ``[0-9a-z]`` picked with
  ``random.choice``), builds a new pycryptodome cipher, assembles the layout in a ``bytearray``
  with slice assignments, encodes with ``binascii.b2a_base64`` and returns a ``TokenInfo``.
  CBC pads the text (as a ``str``) before encoding it, as the official one does.
- ``plain_decode`` is the decoder a user would write in twenty lines (the official package has
  none): base64, ``struct``, ``AESGCM`` (or a CBC decryptor), ``json.loads``; no checks.
  ``plain_decode_cached`` is the same with one ``AESGCM`` per secret kept across calls.

Each generator accepts ``pinned=(ctime, nonce, iv_text)`` so that the tests can check it
reproduces the official vectors byte for byte (tests/vectors/token04-official.json); the timed
path is the same code with the draws made.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import struct
import time
from functools import lru_cache
from typing import Any

from Crypto.Cipher import AES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Pinned = tuple[int, int, str]  # ctime, nonce, IV text

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class TokenInfo:
    """What both official generators return instead of raising."""

    def __init__(self, token: str, error_code: int, error_message: str) -> None:
        self.token = token
        self.error_code = error_code
        self.error_message = error_message


def _refused(app_id: object, user_id: object, secret: object, ttl: object) -> TokenInfo | None:
    if type(app_id) != int or app_id == 0:  # noqa: E721 - the official check, kept as it is
        return TokenInfo("", 1, "appID invalid")
    if type(user_id) != str or user_id == "":  # noqa: E721
        return TokenInfo("", 3, "userID invalid")
    if type(secret) != str or len(secret) != 32:  # noqa: E721
        return TokenInfo("", 5, "secret must be a 32 byte string")
    if type(ttl) != int or ttl <= 0:  # noqa: E721
        return TokenInfo("", 6, "effective_time_in_seconds invalid")
    return None


# --- the CBC version ---------------------------------------------------------------------------


def _cbc_iv() -> str:
    # 16 characters, but random.random() * 16 only ever reaches the first 16: [0-9a-f].
    iv = ""
    for _ in range(16):
        iv += _ALPHABET[int(random.random() * 16)]
    return iv


def _cbc_encrypt(text: str, secret: str, iv: str) -> bytes:
    cipher = AES.new(secret.encode("utf-8"), AES.MODE_CBC, iv.encode("utf-8"))
    size = len(text.encode("utf-8"))
    pad = 16 - size % 16
    return bytes(cipher.encrypt((text + chr(pad) * pad).encode("utf-8")))


def official_cbc(
    app_id: int,
    user_id: str,
    secret: str,
    effective_time_in_seconds: int,
    payload: str,
    pinned: Pinned | None = None,
) -> TokenInfo:
    refused = _refused(app_id, user_id, secret, effective_time_in_seconds)
    if refused is not None:
        return refused
    if pinned is None:
        ctime = int(time.time())
        nonce = random.getrandbits(31)
    else:
        ctime, nonce, _ = pinned
    expire = ctime + effective_time_in_seconds
    claims = {
        "app_id": app_id,
        "user_id": user_id,
        "nonce": nonce,
        "ctime": ctime,
        "expire": expire,
        "payload": payload,
    }
    text = json.dumps(claims, separators=(",", ":"), ensure_ascii=False)
    iv = _cbc_iv() if pinned is None else pinned[2]
    sealed = _cbc_encrypt(text, secret, iv)
    out = bytearray(len(sealed) + 28)
    out[0:8] = struct.pack("!q", expire)
    out[8:10] = struct.pack("!h", len(iv))
    out[10:26] = bytearray(iv.encode("utf-8"))
    out[26:28] = struct.pack("!h", len(sealed))
    out[28 : len(out)] = sealed[:]
    return TokenInfo("04" + binascii.b2a_base64(out, newline=False).decode(), 0, "success")


# --- the GCM version ---------------------------------------------------------------------------


def _gcm_iv() -> str:
    return "".join(random.choice(_ALPHABET) for _ in range(12))


def official_gcm(
    app_id: int,
    user_id: str,
    secret: str,
    effective_time_in_seconds: int,
    payload: str,
    pinned: Pinned | None = None,
) -> TokenInfo:
    refused = _refused(app_id, user_id, secret, effective_time_in_seconds)
    if refused is not None:
        return refused
    if pinned is None:
        ctime = int(time.time())
        nonce = random.randint(1, 90000000)
    else:
        ctime, nonce, _ = pinned
    expire = ctime + effective_time_in_seconds
    claims = {
        "app_id": app_id,
        "user_id": user_id,
        "nonce": nonce,
        "ctime": ctime,
        "expire": expire,
        "payload": payload,
    }
    text = json.dumps(claims, separators=(",", ":"), ensure_ascii=False)
    iv = _gcm_iv() if pinned is None else pinned[2]
    cipher = AES.new(secret.encode("utf-8"), AES.MODE_GCM, nonce=iv.encode("utf-8"))
    ciphertext, tag = cipher.encrypt_and_digest(text.encode("utf-8"))
    sealed = bytearray(len(ciphertext) + len(tag))
    sealed[0 : len(ciphertext)] = ciphertext[:]
    sealed[len(ciphertext) : len(ciphertext) + len(tag)] = tag[:]
    out = bytearray(len(sealed) + 24)
    out[0:8] = struct.pack("!q", expire)
    out[8:10] = struct.pack("!h", len(iv))
    out[10:22] = bytearray(iv.encode("utf-8"))
    out[22:24] = struct.pack("!h", len(sealed))
    out[24 : 24 + len(sealed)] = sealed[:]
    out.append(1)  # the mode byte: GCM
    return TokenInfo("04" + binascii.b2a_base64(out, newline=False).decode(), 0, "success")


# --- the plain decoder -------------------------------------------------------------------------


def plain_decode(token: str, secret: str) -> dict[str, Any]:
    """Decode as a user would in twenty lines: no layout, type, expiry or AppID checks."""
    body = base64.b64decode(token[2:])
    _expire, iv_length = struct.unpack_from(">qH", body)
    iv = body[10 : 10 + iv_length]
    (ct_length,) = struct.unpack_from(">H", body, 10 + iv_length)
    sealed = body[12 + iv_length : 12 + iv_length + ct_length]
    key = secret.encode()
    # GCM tokens end with a mode byte after the ciphertext; CBC tokens end with the ciphertext,
    # whose last byte is 1 once in 256 tokens: the length tells them apart.
    if len(body) == 13 + iv_length + ct_length and body[-1:] == b"\x01":
        plaintext = AESGCM(key).decrypt(iv, sealed, None)
    else:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(sealed) + decryptor.finalize()
        plaintext = padded[: -padded[-1]]
    claims: dict[str, Any] = json.loads(plaintext)
    return claims


@lru_cache(maxsize=8)
def _aesgcm(key: bytes) -> AESGCM:
    return AESGCM(key)


def plain_decode_cached(token: str, secret: str) -> dict[str, Any]:
    """``plain_decode`` for GCM with one ``AESGCM`` per secret kept across calls."""
    body = base64.b64decode(token[2:])
    _expire, iv_length = struct.unpack_from(">qH", body)
    iv = body[10 : 10 + iv_length]
    (ct_length,) = struct.unpack_from(">H", body, 10 + iv_length)
    sealed = body[12 + iv_length : 12 + iv_length + ct_length]
    claims: dict[str, Any] = json.loads(_aesgcm(secret.encode()).decrypt(iv, sealed, None))
    return claims
