"""Token04: ZEGO's token, minted and verified.

Layout, all integers big-endian, then standard base64 behind the version ``"04"``:
``expire:int64 | iv_len:uint16 | iv | ct_len:uint16 | ciphertext [| mode:uint8]``.
GCM tokens (mode byte 1) carry a 12-byte nonce and end their ciphertext with a 16-byte tag;
legacy CBC tokens carry a 16-byte IV, PKCS#7 padding and no mode byte (or a mode byte 0).
The plaintext is the compact JSON of the claims, encrypted with the ServerSecret's bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import (
    AppIdMismatch,
    DecryptionFailed,
    HeaderAltered,
    InvalidParameter,
    MalformedToken,
    TokenExpired,
    UserIdMismatch,
)
from .limits import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    MAX_APP_ID,
    as_seconds,
    check_app_id,
    check_effective_time,
    check_int_range,
    check_secret,
    check_user_id,
    is_int,
)
from .privileges import Privileges, try_parse_privileges
from .randomness import nonce_and_iv

Mode = Literal["gcm", "cbc"]

VERSION = "04"
GCM_NONCE_SIZE = 12
CBC_IV_SIZE = 16
GCM_TAG_SIZE = 16
MODE_BYTE_GCM = 1
MODE_BYTE_CBC = 0
# Far above any real token (a few hundred bytes); bounds the work a hostile string can cause.
MAX_TOKEN_LENGTH = 16 * 1024

_HEAD = struct.Struct(">qH")
_U16 = struct.Struct(">H")
_dumps_str = json.JSONEncoder(ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class Token04:
    """The claims of a decoded token; ``privileges`` is None unless the payload holds them."""

    app_id: int
    user_id: str
    nonce: int
    ctime: int
    expire: int
    payload: str
    mode: Mode
    privileges: Privileges | None = None


@dataclass(frozen=True, slots=True)
class TokenHeader:
    """What a token shows without its secret: nothing here is authenticated."""

    version: str
    mode: Mode
    expire: int
    iv_length: int
    ciphertext_length: int


def generate_token04(
    app_id: int,
    user_id: str,
    secret: str,
    effective_time_in_seconds: int | timedelta,
    payload: str | Privileges = "",
    *,
    mode: Mode = "gcm",
) -> str:
    """Mint a token valid for ``effective_time_in_seconds`` from now, like ZEGO's generators.

    ``payload`` is ZEGO's privilege JSON as a string, or a ``Privileges`` value (a strict
    token for one room). The lifetime may be a ``timedelta`` of whole seconds."""
    seconds = check_effective_time(
        as_seconds(effective_time_in_seconds, "effective_time_in_seconds")
    )
    if isinstance(payload, Privileges):
        payload = payload.to_payload()
    ctime = int(time.time())
    nonce, iv = nonce_and_iv(_iv_size(mode))
    return encode_token04(
        app_id=app_id,
        user_id=user_id,
        secret=secret,
        ctime=ctime,
        expire=ctime + seconds,
        nonce=nonce,
        payload=payload,
        mode=mode,
        iv=iv,
    )


def encode_token04(
    *,
    app_id: int,
    user_id: str,
    secret: str,
    ctime: int,
    expire: int,
    nonce: int,
    payload: str = "",
    mode: Mode = "gcm",
    iv: bytes | None = None,
) -> str:
    """Encode given claims; with ``iv`` the result is deterministic (for tests and vectors)."""
    check_app_id(app_id)
    check_user_id(user_id)
    key = check_secret(secret)
    check_int_range(ctime, "ctime", 0, INT64_MAX)
    check_int_range(expire, "expire", 0, INT64_MAX)
    check_int_range(nonce, "nonce", INT32_MIN, INT32_MAX)
    if not isinstance(payload, str):
        raise InvalidParameter("payload must be a string", parameter="payload")
    iv_size = _iv_size(mode)
    if iv is None:
        iv = os.urandom(iv_size)
    elif not isinstance(iv, bytes) or len(iv) != iv_size:
        raise InvalidParameter(f"iv must be {iv_size} bytes for {mode} tokens", parameter="iv")
    plaintext = _plaintext(app_id, user_id, nonce, ctime, expire, payload)
    if mode == "gcm":
        sealed = _aesgcm(key).encrypt(iv, plaintext, None)
        tail = b"\x01"
    else:
        sealed = _cbc_encrypt(key, iv, plaintext)
        tail = b""
    if len(sealed) > 0xFFFF:
        # The layout stores the ciphertext length in two bytes; without this check the
        # library would fail with a bare struct.error.
        raise InvalidParameter(
            f"payload is too long: the token's ciphertext would be {len(sealed)} bytes, the "
            "format holds at most 65535",
            parameter="payload",
        )
    body = b"".join((_HEAD.pack(expire, iv_size), iv, _U16.pack(len(sealed)), sealed, tail))
    return VERSION + base64.b64encode(body).decode("ascii")


def decode_token04(
    token: str,
    secret: str,
    *,
    app_id: int | None = None,
    user_id: str | None = None,
    now: float | None = None,
    leeway: int = 0,
    verify_expiry: bool = True,
) -> Token04:
    """Open and verify a token; raise an ``InvalidToken`` subclass saying why it is refused.

    Checks, in order: layout, decryption (GCM's tag, or CBC padding and JSON), that the
    unauthenticated header expiry equals the encrypted one, the expected AppID and user ID,
    then expiry (``now >= expire + leeway`` is expired).
    """
    key = check_secret(secret)
    header, iv, sealed = _split(token)
    if header.mode == "gcm":
        try:
            plaintext = _aesgcm(key).decrypt(iv, sealed, None)
        except InvalidTag:
            raise DecryptionFailed(
                "token does not decrypt with this ServerSecret: the secret is wrong "
                "(check the AppID's ServerSecret in the ZEGOCLOUD console) or the token was "
                "altered or truncated"
            ) from None
    else:
        plaintext = _cbc_decrypt(key, iv, sealed)
    claims = _claims(plaintext, header.mode)
    if claims.expire != header.expire:
        # The header's expiry is outside the GCM tag: a mismatch means someone edited it.
        raise HeaderAltered(
            "token header says it expires at "
            f"{header.expire} but its encrypted claims say {claims.expire}: the token was altered",
            header_expire=header.expire,
            claims_expire=claims.expire,
        )
    if app_id is not None and claims.app_id != app_id:
        raise AppIdMismatch(
            f"token was made for AppID {claims.app_id}, not {app_id}: use the ServerSecret and "
            "AppID of the same ZEGOCLOUD project",
            expected=app_id,
            actual=claims.app_id,
        )
    if user_id is not None and claims.user_id != user_id:
        raise UserIdMismatch(
            f"token was made for user ID {claims.user_id!r}, not {user_id!r}: the client must "
            "log in with the same user ID the token was minted for",
            expected=user_id,
            actual=claims.user_id,
        )
    if verify_expiry:
        if not is_int(leeway) or leeway < 0:
            raise InvalidParameter("leeway must be a non-negative whole number of seconds")
        current = time.time() if now is None else now
        if current >= claims.expire + leeway:
            raise TokenExpired(
                f"token expired at {claims.expire} ({int(current) - claims.expire} s ago): "
                "mint a new one, and refresh tokens before they expire",
                expire=claims.expire,
            )
    return claims


def read_header(token: str) -> TokenHeader:
    """Read what a token shows without its secret (version, mode, header expiry, sizes)."""
    header, _iv, _sealed = _split(token)
    return header


def _plaintext(
    app_id: int, user_id: str, nonce: int, ctime: int, expire: int, payload: str
) -> bytes:
    # Built by hand in the official key order: faster than dumping a dict, and the order is
    # part of byte compatibility with the official generators.
    text = (
        f'{{"app_id":{app_id},"user_id":{_dumps_str(user_id)},"nonce":{nonce},'
        f'"ctime":{ctime},"expire":{expire},"payload":{_dumps_str(payload)}}}'
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameter(
            "payload contains characters that cannot be encoded as UTF-8 (lone surrogates)",
            parameter="payload",
        ) from None


def _iv_size(mode: object) -> int:
    if mode == "gcm":
        return GCM_NONCE_SIZE
    if mode == "cbc":
        return CBC_IV_SIZE
    raise InvalidParameter(f'mode must be "gcm" or "cbc", got {mode!r}', parameter="mode")


@lru_cache(maxsize=64)
def _aesgcm(key: bytes) -> AESGCM:
    # One AEAD object per secret: building it is a large share of a token's cost.
    return AESGCM(key)


@lru_cache(maxsize=64)
def _aes(key: bytes) -> algorithms.AES:
    return algorithms.AES(key)


def _cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    pad = 16 - len(plaintext) % 16
    encryptor = Cipher(_aes(key), modes.CBC(iv)).encryptor()
    return encryptor.update(plaintext + bytes((pad,)) * pad) + encryptor.finalize()


def _cbc_decrypt(key: bytes, iv: bytes, sealed: bytes) -> bytes:
    wrong = DecryptionFailed(
        "CBC token does not decrypt with this ServerSecret: the secret is wrong or the token "
        "was altered (CBC tokens carry no integrity check; prefer GCM)"
    )
    if not sealed or len(sealed) % 16:
        raise MalformedToken(
            f"CBC ciphertext is {len(sealed)} bytes, not a positive multiple of 16: the token "
            "was truncated or altered"
        )
    decryptor = Cipher(_aes(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(sealed) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= 16 or padded[-pad:] != bytes((pad,)) * pad:
        raise wrong
    return padded[:-pad]


def _split(token: object) -> tuple[TokenHeader, bytes, bytes]:
    if not isinstance(token, str):
        raise MalformedToken(f"token must be a string, got {type(token).__name__}")
    if not token:
        raise MalformedToken("token is empty: pass the string your server minted")
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedToken(
            f"token is {len(token)} characters, far longer than any Token04 "
            f"(at most {MAX_TOKEN_LENGTH})"
        )
    if "#" in token:
        raise MalformedToken(
            "this is a kit token (token#info): parse it with parse_kit_token() and decode "
            "its .token"
        )
    if not token.startswith(VERSION):
        raise MalformedToken(
            f"token does not start with version {VERSION!r} (it starts with {token[:2]!r}): "
            "only Token04 is supported"
        )
    try:
        encoded = token[2:].encode("ascii")
        body = base64.b64decode(encoded, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedToken(
            "token is not valid base64 after its '04' prefix: it was truncated, altered, or "
            "URL-encoded on the way (decode '%2B' back to '+')"
        ) from None
    if base64.b64encode(body) != encoded:
        # Base64 lets the last character's spare bits vary; no generator sets them, so a
        # token that does was edited, and refusing it makes every changed character count.
        raise MalformedToken("token's base64 is not in canonical form: it was altered")
    if len(body) < _HEAD.size:
        raise MalformedToken("token is too short to hold a Token04 header: it was truncated")
    expire, iv_length = _HEAD.unpack_from(body)
    offset = _HEAD.size
    iv = body[offset : offset + iv_length]
    offset += iv_length
    if len(iv) != iv_length or len(body) < offset + _U16.size:
        raise MalformedToken("token ends inside its IV: it was truncated")
    (ct_length,) = _U16.unpack_from(body, offset)
    offset += _U16.size
    sealed = body[offset : offset + ct_length]
    offset += ct_length
    if len(sealed) != ct_length:
        raise MalformedToken(
            f"token says its ciphertext is {ct_length} bytes but only {len(sealed)} follow: "
            "it was truncated"
        )
    tail = body[offset:]
    mode: Mode
    if tail == b"\x01":
        mode = "gcm"
        wanted = GCM_NONCE_SIZE
    elif tail in (b"", b"\x00"):
        mode = "cbc"
        wanted = CBC_IV_SIZE
    else:
        raise MalformedToken(
            f"token has {len(tail)} unexpected bytes after its ciphertext: it was altered"
        )
    if iv_length != wanted:
        raise MalformedToken(
            f"{mode.upper()} token carries a {iv_length}-byte IV; Token04 uses {wanted}"
        )
    if mode == "gcm" and ct_length < GCM_TAG_SIZE:
        raise MalformedToken("GCM token is too short to hold its 16-byte tag: it was truncated")
    header = TokenHeader(
        version=VERSION,
        mode=mode,
        expire=expire,
        iv_length=iv_length,
        ciphertext_length=ct_length,
    )
    return header, iv, sealed


def _claims(plaintext: bytes, mode: Mode) -> Token04:
    try:
        data = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # For GCM this cannot happen unless the secret itself minted garbage; for CBC it is
        # the usual sign of a wrong secret, which CBC cannot detect any earlier.
        raise DecryptionFailed(
            "token decrypted to unreadable claims: the ServerSecret is wrong or the token was "
            "altered"
        ) from None
    if not isinstance(data, dict):
        raise DecryptionFailed("token's claims are not a JSON object: the token was altered")
    # The UIKit's generateKitTokenForTest omits "payload"; every other claim is required.
    payload = data.get("payload", "")
    fields = {k: data.get(k) for k in ("app_id", "nonce", "ctime", "expire")}
    user_id = data.get("user_id")
    if (
        not all(is_int(v) for v in fields.values())
        or not isinstance(user_id, str)
        or not isinstance(payload, str)
    ):
        raise MalformedToken(
            "token's claims lack app_id, user_id, nonce, ctime or expire, or have the wrong "
            "types: it was not made by a Token04 generator"
        )
    if not 0 < fields["app_id"] <= MAX_APP_ID:  # type: ignore[operator]
        raise MalformedToken(
            f"token's app_id {fields['app_id']} is not a valid AppID (1..{MAX_APP_ID})"
        )
    return Token04(
        app_id=fields["app_id"],  # type: ignore[arg-type]
        user_id=user_id,
        nonce=fields["nonce"],  # type: ignore[arg-type]
        ctime=fields["ctime"],  # type: ignore[arg-type]
        expire=fields["expire"],  # type: ignore[arg-type]
        payload=payload,
        mode=mode,
        privileges=try_parse_privileges(payload),
    )
