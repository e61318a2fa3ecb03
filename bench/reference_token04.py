"""The baseline for the library benchmark: Token04 the way ZEGO's official Python generator does it.

Written for this benchmark from the format facts (tests/vectors/README.md), not copied: a dict
dumped with ``json.dumps`` on every call, a new pycryptodome cipher object on every call,
PKCS#7 padding by hand, and Python's ``random`` for the nonce and the IV, as the official one
does. The decoder mirrors that style, since the official Python package has none.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import time
from typing import Any

from Crypto.Cipher import AES

# The official generator draws its IV as printable text, not raw bytes.
_IV_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _random_iv(size: int) -> bytes:
    return "".join(random.choice(_IV_ALPHABET) for _ in range(size)).encode("utf-8")


def _pkcs7_pad(data: bytes) -> bytes:
    pad = 16 - len(data) % 16
    return data + bytes([pad]) * pad


def _pkcs7_unpad(data: bytes) -> bytes:
    pad = data[-1]
    if pad < 1 or pad > 16 or data[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    return data[:-pad]


def encode_reference(
    app_id: int,
    user_id: str,
    secret: str,
    ctime: int,
    expire: int,
    nonce: int,
    payload: str,
    mode: str,
    iv: bytes,
) -> str:
    """Encode given claims with a given IV: used to check the baseline against the vectors."""
    claims = {
        "app_id": app_id,
        "user_id": user_id,
        "nonce": nonce,
        "ctime": ctime,
        "expire": expire,
        "payload": payload,
    }
    plaintext = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    key = secret.encode("utf-8")
    if mode == "gcm":
        gcm = AES.new(key, AES.MODE_GCM, nonce=iv)
        ciphertext, tag = gcm.encrypt_and_digest(plaintext)
        sealed = ciphertext + tag
        tail = struct.pack(">b", 1)
    else:
        cbc = AES.new(key, AES.MODE_CBC, iv)
        sealed = cbc.encrypt(_pkcs7_pad(plaintext))
        tail = b""
    body = (
        struct.pack(">q", expire)
        + struct.pack(">h", len(iv))
        + iv
        + struct.pack(">h", len(sealed))
        + sealed
        + tail
    )
    return "04" + base64.b64encode(body).decode("utf-8")


def generate_reference(
    app_id: int,
    user_id: str,
    secret: str,
    effective_time_in_seconds: int,
    payload: str = "",
    mode: str = "gcm",
) -> str:
    """Mint a token the official way: fresh time, ``random`` nonce and IV, new cipher."""
    if app_id == 0:
        raise ValueError("app_id invalid")
    if user_id == "":
        raise ValueError("user_id invalid")
    if len(secret) != 32:
        raise ValueError("secret must be a 32 byte string")
    if effective_time_in_seconds <= 0:
        raise ValueError("effective_time_in_seconds invalid")
    ctime = int(time.time())
    nonce = random.randint(-(2**31), 2**31 - 1)
    iv = _random_iv(12 if mode == "gcm" else 16)
    return encode_reference(
        app_id,
        user_id,
        secret,
        ctime,
        ctime + effective_time_in_seconds,
        nonce,
        payload,
        mode,
        iv,
    )


def decode_reference(token: str, secret: str) -> dict[str, Any]:
    """Open a token in the same style: slice the header by hand, new cipher, ``json.loads``."""
    if not token.startswith("04"):
        raise ValueError("not a Token04")
    body = base64.b64decode(token[2:])
    expire = struct.unpack(">q", body[0:8])[0]
    iv_length = struct.unpack(">h", body[8:10])[0]
    iv = body[10 : 10 + iv_length]
    offset = 10 + iv_length
    ct_length = struct.unpack(">h", body[offset : offset + 2])[0]
    sealed = body[offset + 2 : offset + 2 + ct_length]
    tail = body[offset + 2 + ct_length :]
    key = secret.encode("utf-8")
    if tail == b"\x01":
        gcm = AES.new(key, AES.MODE_GCM, nonce=iv)
        plaintext = gcm.decrypt_and_verify(sealed[:-16], sealed[-16:])
    else:
        cbc = AES.new(key, AES.MODE_CBC, iv)
        plaintext = _pkcs7_unpad(cbc.decrypt(sealed))
    claims: dict[str, Any] = json.loads(plaintext.decode("utf-8"))
    if claims["expire"] != expire:
        raise ValueError("header expiry differs from the claims")
    if claims["expire"] <= time.time():
        raise ValueError("token expired")
    return claims
