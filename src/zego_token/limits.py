"""ZEGO's documented limits on AppIDs, IDs and secrets, checked in one place.

Lengths are counted in UTF-8 bytes because that is how ZEGO's servers count them.
"""

from __future__ import annotations

import re
from datetime import timedelta

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


def is_int(value: object) -> bool:
    """True for real integers; ``bool`` is an ``int`` subclass but never a valid ID or time."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_app_id(app_id: object) -> int:
    if not is_int(app_id) or not 0 < app_id <= MAX_APP_ID:  # type: ignore[operator]
        raise InvalidParameter(
            f"app_id must be the positive integer AppID from the ZEGOCLOUD console "
            f"(1..{MAX_APP_ID}), got {_describe(app_id)}",
            code=CODE_APP_ID,
            parameter="app_id",
        )
    return app_id  # type: ignore[return-value]


def check_user_id(user_id: object) -> str:
    if not isinstance(user_id, str) or not user_id:
        raise InvalidParameter(
            f"user_id must be a non-empty string, got {_describe(user_id)}",
            code=CODE_USER_ID,
            parameter="user_id",
        )
    size = _utf8_size(user_id, "user_id", CODE_USER_ID)
    if size > MAX_USER_ID_BYTES:
        raise InvalidParameter(
            f"user_id is {size} bytes; ZEGO allows at most {MAX_USER_ID_BYTES}",
            code=CODE_USER_ID,
            parameter="user_id",
        )
    return user_id


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
    if not is_int(seconds) or not 0 < seconds <= INT32_MAX:  # type: ignore[operator]
        raise InvalidParameter(
            f"effective_time_in_seconds must be a positive whole number of seconds "
            f"(at most {INT32_MAX}), got {_describe(seconds)}",
            code=CODE_EFFECTIVE_TIME,
            parameter="effective_time_in_seconds",
        )
    return seconds  # type: ignore[return-value]


def check_room_id(room_id: object) -> str:
    if not isinstance(room_id, str) or not room_id:
        raise InvalidParameter(
            f"room_id must be a non-empty string, got {_describe(room_id)}", parameter="room_id"
        )
    size = _utf8_size(room_id, "room_id", 0)
    if size > MAX_ROOM_ID_BYTES:
        raise InvalidParameter(
            f"room_id is {size} bytes; ZEGO allows at most {MAX_ROOM_ID_BYTES}",
            parameter="room_id",
        )
    return room_id


def check_stream_id(stream_id: object) -> str:
    if not isinstance(stream_id, str) or not stream_id:
        raise InvalidParameter(
            f"each stream ID must be a non-empty string, got {_describe(stream_id)}",
            parameter="stream_ids",
        )
    size = _utf8_size(stream_id, "stream ID", 0)
    if size > MAX_STREAM_ID_BYTES:
        raise InvalidParameter(
            f"stream ID is {size} bytes; ZEGO allows at most {MAX_STREAM_ID_BYTES}",
            parameter="stream_ids",
        )
    return stream_id


def check_user_name(user_name: object) -> str:
    if not isinstance(user_name, str):
        raise InvalidParameter(
            f"user_name must be a string, got {_describe(user_name)}", parameter="user_name"
        )
    size = _utf8_size(user_name, "user_name", 0)
    if size > MAX_USER_NAME_BYTES:
        raise InvalidParameter(
            f"user_name is {size} bytes; ZEGO allows at most {MAX_USER_NAME_BYTES}",
            parameter="user_name",
        )
    return user_name


def check_int_range(value: object, name: str, low: int, high: int) -> int:
    if not is_int(value) or not low <= value <= high:  # type: ignore[operator]
        raise InvalidParameter(
            f"{name} must be an integer in {low}..{high}, got {_describe(value)}", parameter=name
        )
    return value  # type: ignore[return-value]


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
