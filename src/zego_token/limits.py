"""ZEGO's documented limits on AppIDs, IDs and secrets, checked in one place.

Lengths are counted in UTF-8 bytes because that is how ZEGO's servers count them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TypeGuard

from .errors import InvalidParameter

# Codes of the official generators, kept so migrated callers can branch on them.
CODE_APP_ID = 1
CODE_USER_ID = 3
CODE_SECRET = 5
CODE_EFFECTIVE_TIME = 6

MAX_APP_ID = 2**32 - 1
MAX_USER_ID_BYTES = 64
MAX_ROOM_ID_BYTES = 128
MAX_STREAM_ID_BYTES = 256
MAX_USER_NAME_BYTES = 256
SECRET_LENGTH = 32
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# ZEGO's ID rule: digits, English letters and these symbols, nothing else.
# ZEGO's ID rule, the one statement of it: the punctuation allowed besides digits and English
# letters. The regex, the OpenAPI pattern and the message below are made from it, and a test
# holds the demo page's copies (static/demo.js, demo.html) to it.
ZEGO_ID_PUNCTUATION = "~!@#$%^&*()_+=-`;',.<>/\\"
ZEGO_ID_PATTERN = (
    "^[0-9A-Za-z" + ZEGO_ID_PUNCTUATION.replace("\\", "\\\\").replace("-", "\\-") + "]+$"
)
_ZEGO_ID_CHARS = re.compile(ZEGO_ID_PATTERN)


def is_int(value: object) -> TypeGuard[int]:
    """True for real integers; ``bool`` is an ``int`` subclass but never a valid ID or time."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_app_id(app_id: object) -> int:
    return _int_in(
        app_id,
        1,
        MAX_APP_ID,
        f"app_id must be the positive integer AppID from the ZEGOCLOUD console (1..{MAX_APP_ID})",
        code=CODE_APP_ID,
        parameter="app_id",
    )


def check_user_id(user_id: object) -> str:
    return _text(user_id, "user_id", MAX_USER_ID_BYTES, code=CODE_USER_ID)


def check_secret(secret: object) -> bytes:
    """Return the AES-256 key: the ServerSecret's 32 ASCII characters as bytes."""
    if not isinstance(secret, str):
        raise InvalidParameter(
            "secret must be the 32-character ServerSecret string from the ZEGOCLOUD console",
            code=CODE_SECRET,
            parameter="secret",
        )
    # Never echo the secret itself: only its shape.
    if len(secret) != SECRET_LENGTH or not secret.isascii():
        raise InvalidParameter(
            f"secret must be exactly {SECRET_LENGTH} ASCII characters (the ServerSecret from "
            f"the ZEGOCLOUD console), got {len(secret)} characters"
            + ("" if secret.isascii() else " with non-ASCII ones"),
            code=CODE_SECRET,
            parameter="secret",
        )
    return secret.encode("ascii")


def check_effective_time(seconds: object) -> int:
    return _int_in(
        seconds,
        1,
        INT32_MAX,
        "effective_time_in_seconds must be a positive whole number of seconds "
        f"(at most {INT32_MAX})",
        code=CODE_EFFECTIVE_TIME,
        parameter="effective_time_in_seconds",
    )


def check_lifetime(value: object, name: str) -> int:
    """Whole seconds, 1 to ``INT32_MAX``: an ``int``, or a ``timedelta`` without a fraction."""
    return _int_in(
        as_seconds(value, name),
        1,
        INT32_MAX,
        f"{name} must be a positive whole number of seconds or a timedelta (at most {INT32_MAX})",
        code=CODE_EFFECTIVE_TIME,
        parameter=name,
    )


def check_room_id(room_id: object) -> str:
    return _text(room_id, "room_id", MAX_ROOM_ID_BYTES)


def check_stream_id(stream_id: object) -> str:
    return _text(stream_id, "stream ID", MAX_STREAM_ID_BYTES, parameter="stream_ids", each=True)


def check_user_name(user_name: object) -> str:
    return _text(user_name, "user_name", MAX_USER_NAME_BYTES, empty=True)


def check_int_range(value: object, name: str, low: int, high: int) -> int:
    return _int_in(value, low, high, f"{name} must be an integer in {low}..{high}", parameter=name)


def _int_in(value: object, low: int, high: int, rule: str, *, code: int = 0, parameter: str) -> int:
    if not is_int(value) or not low <= value <= high:
        raise InvalidParameter(f"{rule}, got {_describe(value)}", code=code, parameter=parameter)
    return value


def _text(
    value: object,
    name: str,
    max_bytes: int,
    *,
    code: int = 0,
    parameter: str = "",
    empty: bool = False,
    each: bool = False,
) -> str:
    """``value`` if it is a string (non-empty unless ``empty``) of at most ``max_bytes`` UTF-8
    bytes, ZEGO's limit for the field ``name``; else ``InvalidParameter`` saying which."""
    parameter = parameter or name
    if not isinstance(value, str) or not (value or empty):
        kind = "a string" if empty else "a non-empty string"
        raise InvalidParameter(
            f"{'each ' if each else ''}{name} must be {kind}, got {_describe(value)}",
            code=code,
            parameter=parameter,
        )
    size = _utf8_size(value, name, code)
    if size > max_bytes:
        raise InvalidParameter(
            f"{name} is {size} bytes; ZEGO allows at most {max_bytes}",
            code=code,
            parameter=parameter,
        )
    return value


def follows_zego_id_rules(value: str) -> bool:
    """True when ``value`` uses only the characters ZEGO allows in user and room IDs."""
    return _ZEGO_ID_CHARS.fullmatch(value) is not None


ZEGO_ID_RULE = f"only digits, English letters and {ZEGO_ID_PUNCTUATION} are allowed"


def _utf8_size(value: str, name: str, code: int) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        # Lone surrogates cannot travel in UTF-8 JSON, so no ZEGO server could read them.
        raise InvalidParameter(
            f"{name} contains characters that cannot be encoded as UTF-8 (lone surrogates)",
            code=code,
            parameter=name,
        ) from None


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"a string of {len(value)} characters" if value else "an empty string"
    if is_int(value):
        return str(value)
    return type(value).__name__


def as_seconds(value: object, name: str) -> object:
    """A ``timedelta`` as its whole seconds (a fraction is refused, never rounded); anything
    else unchanged, for the caller's own check."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise InvalidParameter(
                f"{name} must be whole seconds, got timedelta({seconds} s)",
                code=CODE_EFFECTIVE_TIME,
                parameter=name,
            )
        return int(seconds)
    return value
