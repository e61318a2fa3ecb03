"""Token04: ZEGO's token, minted and verified.

Layout, all integers big-endian, then standard base64 behind the version ``"04"``:
``expire:int64 | iv_len:uint16 | iv | ct_len:uint16 | ciphertext [| mode:uint8]``.
GCM tokens (mode byte 1) carry a 12-byte nonce and end their ciphertext with a 16-byte tag;
legacy CBC tokens carry a 16-byte IV, PKCS#7 padding and no mode byte (or a mode byte 0).
The plaintext is the compact JSON of the claims, encrypted with the ServerSecret's bytes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Literal

import msgspec
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
    MAX_USER_ID_BYTES,
    as_seconds,
    check_app_id,
    check_effective_time,
    check_int_range,
    check_secret,
    check_user_id,
    is_int,
)
from .privileges import Privileges, check_payload_streams, try_parse_privileges
from .randomness import DRAWS, nonce_and_iv

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
_GCM_HEAD = struct.Struct(f">qH{GCM_NONCE_SIZE}sH")
_CBC_HEAD = struct.Struct(f">qH{CBC_IV_SIZE}sH")
# msgspec writes bytes as standard padded base64 straight into a str, in C: for a token's 131
# bytes ~3.4k instructions (164 ns) against ~3.7k (216 ns) for binascii.b2a_base64, whose loop
# goes bit by bit, and the decode of its bytes to str (docs/benchmarks.md).
_base64: Callable[[bytes], str] = msgspec.to_builtins
_join = b"".join  # one copy where a + b + c makes two

if sys.version_info >= (3, 11):
    from binascii import a2b_base64
else:  # pragma: no cover - Python 3.10 has no strict_mode

    def a2b_base64(data: str, *, strict_mode: bool = False) -> bytes:
        return base64.b64decode(data, validate=True)


# Base64 characters whose spare low bits are zero: the last data character before "=="
# carries 4 spare bits, the one before "=" carries 2 (indices divisible by 16 and by 4).
_ZERO_LOW_4 = frozenset("AQgw")
_ZERO_LOW_2 = frozenset("AEIMQUYcgkosw048")

# One 64-bit integer: every generator's claims fit, and json.loads reads such numbers the same
# way whatever sys.set_int_max_str_digits says (it refuses very long ones).
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _Claims(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """The claims in the official generators' key order, written and read by msgspec in C.

    Written, it is byte for byte what ``json.dumps(claims, separators=(",", ":"),
    ensure_ascii=False)`` writes (tests/test_vectors.py). Read, it accepts a subset of what
    ``_claims_from_json`` accepts, with the same values (strictly typed: no bool or float for
    an int; no unknown keys; strict UTF-8); anything else goes through that reference, which
    gives the verdict and the error. In C, reading the claims into a Token04 takes half the
    instructions the claims regex, int() calls and escape decoding took (a third with a
    privilege payload's escapes), and writing them under half an f-string's
    (docs/benchmarks.md)."""

    app_id: _Int64
    user_id: str
    nonce: _Int64
    ctime: _Int64
    expire: _Int64
    # The UIKit's generateKitTokenForTest omits "payload"; every other claim is required.
    payload: str = ""


def _as_plain(value: object) -> object:
    """An int or str subclass that passed the checks (msgspec writes only the exact types),
    as its value: what json.dumps writes for it."""
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"cannot write {type(value).__name__} in a token's claims")


_write_claims = msgspec.json.Encoder(enc_hook=_as_plain).encode
_read_claims = msgspec.json.Decoder(_Claims).decode


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

    @property
    def privileges(self) -> Privileges | None:
        # Parsed when asked for, not on every decode: most callers never look.
        return try_parse_privileges(self.payload)


@dataclass(frozen=True, slots=True)
class TokenHeader:
    """What a token shows without its secret: nothing here is authenticated."""

    version: str
    mode: Mode
    expire: int
    iv_length: int
    ciphertext_length: int
    # The GCM nonce or CBC IV itself: random bytes, or characters of a generator's alphabet.
    iv: bytes = field(default=b"", repr=False)


# A frozen dataclass's __init__ sets each field through object.__setattr__ by name; setting
# the slots through their descriptors gives the same object in half the time (~10 % of a
# decode). Only _claims' common path uses this; Token04 stays an ordinary frozen dataclass.
_new_object = object.__new__
(
    _set_app_id,
    _set_user_id,
    _set_nonce,
    _set_ctime,
    _set_expire,
    _set_payload,
    _set_mode,
) = (
    getattr(Token04, name).__set__
    for name in ("app_id", "user_id", "nonce", "ctime", "expire", "payload", "mode")
)


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
    ttl = effective_time_in_seconds
    if type(ttl) is not int or not 0 < ttl <= INT32_MAX:
        ttl = check_effective_time(as_seconds(ttl, "effective_time_in_seconds"))
    if type(payload) is not str or payload:  # the common empty payload needs no check
        if isinstance(payload, Privileges):
            payload = payload.to_payload()  # checked as it is written
        else:
            check_payload_streams(payload)
    return _seal(app_id, user_id, secret, math.floor(time.time()), ttl, payload, mode)


def mint_token04(
    app_id: int, user_id: str, secret: str, ttl: int, payload: str, mode: Mode
) -> tuple[str, int]:
    """``generate_token04``'s core, for callers that have checked ``ttl`` (1..2**31-1) and
    ``payload`` (a string) already, as the token server has: the token and its expiry."""
    ctime = math.floor(time.time())
    return _seal(app_id, user_id, secret, ctime, ttl, payload, mode), ctime + ttl


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
    if type(ctime) is not int or not 0 <= ctime <= INT64_MAX:
        check_int_range(ctime, "ctime", 0, INT64_MAX)
    if type(expire) is not int or not 0 <= expire <= INT64_MAX:
        check_int_range(expire, "expire", 0, INT64_MAX)
    if type(nonce) is not int or not INT32_MIN <= nonce <= INT32_MAX:
        check_int_range(nonce, "nonce", INT32_MIN, INT32_MAX)
    check_payload_streams(payload)
    iv_size = _iv_size(mode)
    if iv is None:
        iv = os.urandom(iv_size)
    elif not isinstance(iv, bytes) or len(iv) != iv_size:
        raise InvalidParameter(f"iv must be {iv_size} bytes for {mode} tokens", parameter="iv")
    return _seal(app_id, user_id, secret, ctime, expire - ctime, payload, mode, (nonce, iv))


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
    mode, header_expire, plaintext = _open(token, secret)
    claims = _claims(plaintext, mode)
    if claims.expire != header_expire:
        # The header's expiry is outside the GCM tag: a mismatch means someone edited it.
        raise HeaderAltered(
            "token header says it expires at "
            f"{header_expire} but its encrypted claims say {claims.expire}: the token was altered",
            header_expire=header_expire,
            claims_expire=claims.expire,
        )
    if app_id is not None and claims.app_id != app_id:
        raise AppIdMismatch(expected=app_id, actual=claims.app_id)
    if user_id is not None and claims.user_id != user_id:
        raise UserIdMismatch(expected=user_id, actual=claims.user_id)
    if verify_expiry:
        if (type(leeway) is not int and not is_int(leeway)) or leeway < 0:
            raise InvalidParameter("leeway must be a non-negative whole number of seconds")
        current = time.time() if now is None else now
        if current >= claims.expire + leeway:
            raise TokenExpired(
                f"token expired at {claims.expire} ({int(current) - claims.expire} s ago): "
                "mint a new one, and refresh tokens before they expire",
                expire=claims.expire,
            )
    return claims


def _open(token: str, secret: str) -> tuple[Mode, int, bytes]:
    """The token's mode, its header's expiry and its decrypted claims (not yet parsed)."""
    keys = _KEYS.get(secret) if type(secret) is str else None
    key, aead = keys or _keys(secret)
    mode, header_expire, iv, sealed = _split(token)
    if mode == "gcm":
        try:
            return mode, header_expire, aead.decrypt(iv, sealed, None)
        except InvalidTag:
            raise _gcm_refusal() from None
    return mode, header_expire, _cbc_decrypt(key, iv, sealed)


def read_header(token: str) -> TokenHeader:
    """Read what a token shows without its secret (version, mode, header expiry, sizes)."""
    mode, expire, iv, sealed = _split(token)
    return TokenHeader(
        version=VERSION,
        mode=mode,
        expire=expire,
        iv_length=len(iv),
        ciphertext_length=len(sealed),
        iv=iv,
    )


def read_claims_text(token: str, secret: str) -> tuple[Mode, str]:
    """The token's mode and its claims' JSON exactly as its generator wrote it.

    Key order, spacing and escaping differ between ZEGO's generators; ``decode_token04`` reads
    past them, this keeps them (``zego_token.fingerprint`` reads them). It only decrypts: the
    claims are neither parsed nor checked."""
    mode, _, plaintext = _open(token, secret)
    try:
        return mode, plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise _unreadable() from None


# The key and AEAD object of the last secrets used, keyed by the secret string itself (its hash
# is cached on the string): a hit is one dict lookup where functools.lru_cache's wrapper cost
# ~600 instructions. Only valid secrets of exactly str are stored: errors are not cached, and
# a str subclass could compare equal to another secret.
_KEYS: dict[str, tuple[bytes, AESGCM]] = {}
_KEYS_KEPT = 64


def _keys(secret: object) -> tuple[bytes, AESGCM]:
    key = check_secret(secret)  # raises unless a str
    keys = key, _aesgcm(key)
    if type(secret) is str:
        if len(_KEYS) >= _KEYS_KEPT:
            # The oldest goes; if another thread changes the cache between these steps, the
            # dict's own error is ignored: the cache stays bounded either way.
            with contextlib.suppress(RuntimeError, KeyError, StopIteration):
                del _KEYS[next(iter(_KEYS))]
        _KEYS[secret] = keys
    return keys


def _seal(
    app_id: int,
    user_id: str,
    secret: str,
    ctime: int,
    ttl: int,
    payload: str,
    mode: Mode,
    fixed: tuple[int, bytes] | None = None,
) -> str:
    """Check the arguments every token needs, then write, encrypt and lay out the claims
    (expiring at ``ctime + ttl``). The nonce and IV are drawn here unless ``fixed`` gives them
    (``encode_token04``, which checked them).

    Each check first tries the common case inline (a plain int, an ASCII user ID, a known
    secret) and calls the full check in limits.py, which words the error, only when that fails.
    The public functions call this directly and draw without a call (``DRAWS``): each Python
    call saved is ~2 % of a token (bench/callgrind.py).
    """
    if type(app_id) is not int or not 0 < app_id <= MAX_APP_ID:
        check_app_id(app_id)
    if (
        type(user_id) is not str
        or not user_id.isascii()  # ASCII: no lone surrogates, one byte per character
        or not 0 < len(user_id) <= MAX_USER_ID_BYTES
    ):
        check_user_id(user_id)
    try:
        key, aead = _KEYS[secret] if type(secret) is str else _keys(secret)
    except KeyError:  # a secret not seen lately
        key, aead = _keys(secret)
    iv_size = GCM_NONCE_SIZE if mode == "gcm" else _iv_size(mode)
    if fixed is None:
        try:  # the pool's next draw, without a call (randomness.py)
            nonce, iv = next(DRAWS[iv_size])
        except (KeyError, StopIteration):
            nonce, iv = nonce_and_iv(iv_size)
    else:
        nonce, iv = fixed
    expire = ctime + ttl
    try:
        plaintext = _write_claims(_Claims(app_id, user_id, nonce, ctime, expire, payload))
    except UnicodeEncodeError:
        # The user ID was checked already: only the payload can hold lone surrogates.
        raise InvalidParameter(
            "payload contains characters that cannot be encoded as UTF-8 (lone surrogates)",
            parameter="payload",
        ) from None
    if mode == "gcm":
        sealed = aead.encrypt(iv, plaintext, None)
        layout, mode_byte = _GCM_HEAD, b"\x01"
    else:
        sealed = _cbc_encrypt(key, iv, plaintext)
        layout, mode_byte = _CBC_HEAD, b""  # CBC tokens end without a mode byte
    size = len(sealed)
    if size > 0xFFFF:
        # The layout stores the ciphertext length in two bytes; without this check the
        # library would fail with a bare struct.error.
        raise InvalidParameter(
            f"payload is too long: the token's ciphertext would be {size} bytes, the "
            "format holds at most 65535",
            parameter="payload",
        )
    body = _join((layout.pack(expire, iv_size, iv, size), sealed, mode_byte))
    return VERSION + _base64(body)


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


def _split(token: object) -> tuple[Mode, int, bytes, bytes]:
    """Check the layout; return the mode, the header's (unauthenticated) expiry, IV, sealed."""
    if (
        type(token) is not str
        or len(token) > MAX_TOKEN_LENGTH
        or "#" in token
        or not token.startswith(VERSION)
    ):
        _refuse_outer(token)
    assert isinstance(token, str)  # _refuse_outer raised otherwise; str subclasses pass
    encoded = token[2:]
    try:
        # strict_mode refuses what validate=True refuses (characters outside the alphabet,
        # misplaced padding) without the regex pass b64decode(validate=True) runs first.
        body = a2b_base64(encoded, strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise MalformedToken(
            "token is not valid base64 after its '04' prefix: it was truncated, altered, or "
            "URL-encoded on the way (decode '%2B' back to '+')"
        ) from None
    size = len(body)
    # Base64 lets the last character's spare bits vary (and tolerates extra padding); no
    # generator does either, so a token that does was edited, and refusing it makes every
    # changed character count. Every full group of 4 uses all 24 of its bits, so only the
    # length and the last data character need looking at (not a re-encoding of the body).
    rest = size % 3
    if len(encoded) != (size + 2) // 3 * 4 or (
        (rest == 1 and encoded[-3] not in _ZERO_LOW_4)
        or (rest == 2 and encoded[-2] not in _ZERO_LOW_2)
    ):
        raise MalformedToken("token's base64 is not in canonical form: it was altered")
    if size > _GCM_HEAD.size:
        # The usual token, read with one unpack; anything else takes the checks below, which
        # accept exactly the same GCM tokens and word the refusals.
        expire, iv_length, iv, ct_length = _GCM_HEAD.unpack_from(body)
        if (
            iv_length == GCM_NONCE_SIZE
            and size == _GCM_HEAD.size + ct_length + 1
            and body[-1] == MODE_BYTE_GCM
            and ct_length >= GCM_TAG_SIZE
        ):
            return "gcm", expire, iv, body[_GCM_HEAD.size : -1]
    return _layout(body)


def _layout(body: bytes) -> tuple[Mode, int, bytes, bytes]:
    """Every layout check, one at a time, each with its own refusal.

    The mode is decided from the trailing mode byte and the IV length together: a cut that
    removes only the GCM mode byte leaves a layout that reads like a CBC token, and naming CBC
    (or its IV) for it would send the user after the wrong cause.
    """
    size = len(body)
    if size < _HEAD.size:
        raise MalformedToken(_damaged("token is too short to hold a Token04 header"))
    expire, iv_length = _HEAD.unpack_from(body)
    offset = _HEAD.size
    iv = body[offset : offset + iv_length]
    offset += iv_length
    if len(iv) != iv_length or size < offset + _U16.size:
        raise MalformedToken(_damaged("token ends inside its IV"))
    (ct_length,) = _U16.unpack_from(body, offset)
    offset += _U16.size
    sealed = body[offset : offset + ct_length]
    offset += ct_length
    if len(sealed) != ct_length:
        raise MalformedToken(
            _damaged(
                f"token says its ciphertext is {ct_length} bytes but only {len(sealed)} follow"
            )
        )
    tail = body[offset:]
    mode: Mode
    if tail == b"\x01" and iv_length == GCM_NONCE_SIZE:
        mode = "gcm"
    elif tail in (b"", b"\x00") and iv_length == CBC_IV_SIZE:
        mode = "cbc"
    elif tail == b"" and iv_length == GCM_NONCE_SIZE:
        raise MalformedToken(
            _damaged("token has a 12-byte GCM nonce but ends without GCM's mode byte")
        )
    elif len(tail) > 1:
        raise MalformedToken(
            _damaged(f"token has {len(tail)} unexpected bytes after its ciphertext")
        )
    else:
        raise MalformedToken(
            _damaged(
                f"token's {iv_length}-byte IV does not fit its mode byte "
                f"({tail.hex() or 'none'}): GCM uses a {GCM_NONCE_SIZE}-byte nonce and mode byte "
                f"01, CBC a {CBC_IV_SIZE}-byte IV"
            )
        )
    if mode == "gcm" and ct_length < GCM_TAG_SIZE:
        raise MalformedToken(_damaged("GCM token is too short to hold its 16-byte tag"))
    return mode, expire, iv, sealed


def _damaged(what: str) -> str:
    return f"{what}: it was truncated or damaged (pass the token exactly as it was minted)"


def _refuse_outer(token: object) -> None:
    """Raise the refusal for a token that is not a str of the right size, shape and version."""
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


def _claims(plaintext: bytes, mode: Mode) -> Token04:
    try:
        read = _read_claims(plaintext)
    except (msgspec.DecodeError, RecursionError):
        # Not the generators' claims as they write them: the reference decides and words it.
        try:
            text = plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise _unreadable() from None
        return _claims_from_json(text, mode)
    app_id = read.app_id
    if not 0 < app_id <= MAX_APP_ID:
        raise MalformedToken(f"token's app_id {app_id} is not a valid AppID (1..{MAX_APP_ID})")
    claims: Token04 = _new_object(Token04)
    _set_app_id(claims, app_id)
    _set_user_id(claims, read.user_id)
    _set_nonce(claims, read.nonce)
    _set_ctime(claims, read.ctime)
    _set_expire(claims, read.expire)
    _set_payload(claims, read.payload)
    _set_mode(claims, mode)
    return claims


def _claims_from_json(text: str, mode: Mode) -> Token04:
    """The claims of any text json.loads reads; also the reference _claims is tested against."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _unreadable() from None
    if not isinstance(data, dict):
        raise DecryptionFailed("token's claims are not a JSON object: the token was altered")
    # The UIKit's generateKitTokenForTest omits "payload"; every other claim is required.
    payload = data.get("payload", "")
    get = data.get
    app_id, nonce, ctime, expire = get("app_id"), get("nonce"), get("ctime"), get("expire")
    user_id = data.get("user_id")
    if not (
        is_int(app_id)
        and is_int(nonce)
        and is_int(ctime)
        and is_int(expire)
        and isinstance(user_id, str)
        and isinstance(payload, str)
    ):
        raise MalformedToken(
            "token's claims lack app_id, user_id, nonce, ctime or expire, or have the wrong "
            "types: it was not made by a Token04 generator"
        )
    if not 0 < app_id <= MAX_APP_ID:
        raise MalformedToken(f"token's app_id {app_id} is not a valid AppID (1..{MAX_APP_ID})")
    return Token04(
        app_id=app_id,
        user_id=user_id,
        nonce=nonce,
        ctime=ctime,
        expire=expire,
        payload=payload,
        mode=mode,
    )


def _gcm_refusal() -> DecryptionFailed:
    return DecryptionFailed(
        "token does not decrypt with this ServerSecret: the secret is wrong "
        "(check the AppID's ServerSecret in the ZEGOCLOUD console) or the token was "
        "altered or truncated"
    )


def _unreadable() -> DecryptionFailed:
    # For GCM this cannot happen unless the secret itself minted garbage; for CBC it is the
    # usual sign of a wrong secret, which CBC cannot detect any earlier.
    return DecryptionFailed(
        "token decrypted to unreadable claims: the ServerSecret is wrong or the token was altered"
    )
