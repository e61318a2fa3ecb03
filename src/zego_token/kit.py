"""Kit tokens for ZEGO's web UIKit: a Token04 plus the room and user it is for.

Format: ``token + "#" + base64(JSON {"userID","roomID","userName","appID"})``, compact JSON in
that key order, ``userName`` percent-encoded like JavaScript's ``encodeURIComponent``. The UIKit
runs ``btoa`` over that JSON, which throws outside Latin-1; ZEGO IDs are ASCII, so this module
refuses non-ASCII user and room IDs instead of making a kit token the UIKit could not.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .errors import InvalidParameter, MalformedToken
from .limits import check_app_id, check_room_id, check_user_id, check_user_name, is_int
from .token04 import MAX_TOKEN_LENGTH, Mode, generate_token04

# The characters encodeURIComponent leaves as they are.
_URI_COMPONENT_SAFE = "-_.!~*'()"
_compact = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class KitToken:
    """The parts of a kit token; ``user_name`` is percent-decoded, as the UIKit shows it."""

    token: str
    app_id: int
    user_id: str
    room_id: str
    user_name: str


def kit_token_for_production(
    app_id: int, token: str, room_id: str, user_id: str, user_name: str = ""
) -> str:
    """Compose a kit token from a token your server minted (the UIKit's ForProduction)."""
    check_app_id(app_id)
    if not isinstance(token, str) or not token.startswith("04") or "#" in token:
        raise InvalidParameter(
            "token must be a Token04 string starting with '04' (not a kit token)",
            parameter="token",
        )
    _check_ascii(check_user_id(user_id), "user_id")
    _check_ascii(check_room_id(room_id), "room_id")
    check_user_name(user_name)
    info = _compact(
        {
            "userID": user_id,
            "roomID": room_id,
            "userName": quote(user_name, safe=_URI_COMPONENT_SAFE),
            "appID": app_id,
        }
    )
    return f"{token}#{base64.b64encode(info.encode('ascii')).decode('ascii')}"


def kit_token_for_test(
    app_id: int,
    secret: str,
    room_id: str,
    user_id: str,
    user_name: str,
    expire_seconds: int = 7200,
    *,
    mode: Mode = "gcm",
) -> str:
    """Mint a token and compose its kit token in one step (the UIKit's ForTest, server-side)."""
    _check_ascii(check_user_id(user_id), "user_id")
    _check_ascii(check_room_id(room_id), "room_id")
    token = generate_token04(app_id, user_id, secret, expire_seconds, mode=mode)
    return kit_token_for_production(app_id, token, room_id, user_id, user_name)


def parse_kit_token(kit_token: str) -> KitToken:
    """Split a kit token into its token and fields; raise ``MalformedToken`` on anything else."""
    if not isinstance(kit_token, str):
        raise MalformedToken(f"kit token must be a string, got {type(kit_token).__name__}")
    if len(kit_token) > 2 * MAX_TOKEN_LENGTH:
        raise MalformedToken("kit token is far longer than any real one")
    token, sep, info = kit_token.partition("#")
    if not sep:
        raise MalformedToken(
            "not a kit token: it has no '#' between the token and the room/user info"
        )
    if not token:
        raise MalformedToken("kit token has no token before its '#'")
    try:
        data = json.loads(base64.b64decode(info.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeError, ValueError, RecursionError):
        raise MalformedToken(
            "the part after '#' is not base64-encoded JSON: the kit token was truncated or altered"
        ) from None
    if not isinstance(data, dict):
        raise MalformedToken("kit token info is not a JSON object")
    user_id, room_id, user_name, app_id = (
        data.get("userID"),
        data.get("roomID"),
        data.get("userName", ""),
        data.get("appID"),
    )
    if not (
        isinstance(user_id, str)
        and isinstance(room_id, str)
        and isinstance(user_name, str)
        and isinstance(app_id, int)
        and is_int(app_id)
    ):
        raise MalformedToken(
            "kit token info needs string userID, roomID, userName and an integer appID"
        )
    try:
        name = unquote(user_name, errors="strict")
    except UnicodeDecodeError:
        raise MalformedToken("kit token userName is not valid percent-encoded UTF-8") from None
    return KitToken(
        token=token,
        app_id=app_id,
        user_id=user_id,
        room_id=room_id,
        user_name=name,
    )


def _check_ascii(value: str, name: str) -> None:
    if not value.isascii():
        raise InvalidParameter(
            f"{name} must be ASCII in a kit token: the UIKit's btoa() cannot encode it, and "
            "ZEGO IDs allow only letters, digits and ASCII symbols",
            code=3 if name == "user_id" else 0,
            parameter=name,
        )
