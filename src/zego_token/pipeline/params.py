"""Turn a query string or a JSON body into a validated ``TokenRequest``.

The query names follow ZEGO's guide (``userID``, ``expired_ts``, ``roomID``...); the JSON body
uses snake_case (``user_id``, ``ttl``...). IDs are checked with the library's rules, so a bad
one is a 400 with the library's message; a TTL outside the configured bounds is a 422 and is
never clamped.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from ..errors import InvalidParameter
from ..limits import (
    MAX_USER_ID_BYTES,
    check_room_id,
    check_stream_id,
    check_user_id,
    check_user_name,
)
from .config import MintConfig
from .contracts import TokenKind, TokenRequest
from .errors import HttpError

MAX_STREAM_IDS = 64
MAX_QUERY_FIELDS = 100

# query name -> JSON name, per endpoint kind
QUERY_NAMES: dict[TokenKind, dict[str, str]] = {
    "token": {
        "userID": "user_id",
        "expired_ts": "ttl",
        "roomID": "room_id",
        "publish": "publish",
        "login": "login",
        "streamID": "stream_ids",
        "appID": "app_id",
    },
}
QUERY_NAMES["kit"] = {**QUERY_NAMES["token"], "userName": "user_name"}
_TOKEN_FIELDS = ("user_id", "ttl", "room_id", "login", "publish", "stream_ids", "app_id")
JSON_FIELDS: dict[TokenKind, tuple[str, ...]] = {
    "token": _TOKEN_FIELDS,
    "kit": (*_TOKEN_FIELDS, "user_name"),
}
_FLAGS = {"1": True, "0": False, "true": True, "false": False}

# Browsers' cache-buster (jQuery's cache: false, many axios setups): ignored, exactly this name.
CACHE_BUSTER = "_"

# Spellings people reach for, folded (lower case, no "_" or "-"), -> the JSON name of the field.
_ALIASES = {
    "userid": "user_id",
    "user": "user_id",
    "uid": "user_id",
    "roomid": "room_id",
    "room": "room_id",
    "ttl": "ttl",
    "expiredts": "ttl",
    "expire": "ttl",
    "expires": "ttl",
    "expiresin": "ttl",
    "expiry": "ttl",
    "effectivetime": "ttl",
    "effectivetimeinseconds": "ttl",
    "streamid": "stream_ids",
    "streamids": "stream_ids",
    "stream": "stream_ids",
    "streams": "stream_ids",
    "appid": "app_id",
    "app": "app_id",
    "username": "user_name",
    "name": "user_name",
    "publish": "publish",
    "login": "login",
}


# The longest name a suggestion is looked for: the accepted names are under 20 characters, so
# at cutoff 0.75 nothing longer than about 33 could match anyway.
MAX_SUGGESTED_NAME = 40


def _fold(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def suggestion(name: str, known: Mapping[str, str]) -> str | None:
    """The known name ``name`` was probably meant to be, or None.

    ``known`` maps each accepted name (as the caller spells it) to its JSON name, so one alias
    table serves both spellings: ``room_id`` in a query suggests ``roomID``, ``roomID`` in a JSON
    body suggests ``room_id``.
    """
    if len(name) > MAX_SUGGESTED_NAME:
        # No accepted name is this long, and difflib's cost grows with the name's length
        # times the names' count: a 60 KB name cost 10-15 ms of CPU per request.
        return None
    by_field = {field: spelled for spelled, field in known.items()}
    field = _ALIASES.get(_fold(name))
    if field in by_field:
        return by_field[field]
    folded = {_fold(spelled): spelled for spelled in known}
    close = difflib.get_close_matches(_fold(name), list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def unknown(name: str, known: Mapping[str, str], what: str, note: str = "") -> HttpError:
    """400 ``unknown_parameter`` naming ``name`` and, when one is close, the right spelling."""
    guess = suggestion(name, known)
    if note:
        why = f": {note}"
    elif guess is not None and guess != name:
        why = f": did you mean {guess}?"
    else:
        why = "."
    return bad(
        f"unknown {what} {name[:40]!r}{why} The {what}s are {', '.join(known)}.",
        "unknown_parameter",
    )


def parse_query(query: bytes) -> list[tuple[str, str]]:
    """``parse_qsl`` with a fast path for the usual query without escapes (``userID=alice``)."""
    try:
        text = query.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("the query string is not valid UTF-8 (percent-encode IDs as UTF-8)") from None
    if text.count("&") >= MAX_QUERY_FIELDS:
        raise bad(f"the query string has more than {MAX_QUERY_FIELDS} fields")
    if "%" in text or "+" in text or ";" in text:
        try:
            return parse_qsl(text, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise bad("the query string is not valid UTF-8 (percent-encode IDs as UTF-8)") from None
    pairs = []
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


class _RepeatedField(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _unique_fields(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose names are unique: with {"user_id": "a", "user_id": "b"} a proxy that
    reads the first and this server the last would disagree on the user, so both are refused."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _RepeatedField(name)
            seen.add(name)
    return data


def bad(message: str, code: str = "invalid_parameter") -> HttpError:
    return HttpError(400, code, message)


def _elsewhere(name: str, kind: TokenKind, style: str) -> str:
    """Where a name of the kit endpoint, sent to the plain one, belongs (userName)."""
    kit_names = QUERY_NAMES["kit"] if style == "query" else JSON_FIELDS["kit"]
    if kind == "token" and name in kit_names:
        return "it belongs to /api/kit-token, not /api/token."
    return ""


# The request of ZEGO's guide, in its order: ?userID=<id>&expired_ts=<seconds>, with an ID of
# characters that need no escaping (1-64 of them, so within the user ID's byte limit). Any
# other query takes the general parse, which reads this one the same way
# (tests/server/test_params_fast_path.py).
_GUIDE_QUERY = re.compile(rb"userID=([A-Za-z0-9_.~-]{1,64})&expired_ts=([0-9]{1,12})")

# A frozen dataclass's __init__ sets each field through object.__setattr__ by name; the slots'
# own descriptors give the same object in half the time (~0.5 us a request), as the library's
# decoder does for Token04. Only the plain request's fast path uses this.
_new_object = object.__new__
(
    _set_app_id,
    _set_user_id,
    _set_ttl,
    _set_room_id,
    _set_login,
    _set_publish,
    _set_stream_ids,
    _set_kind,
    _set_user_name,
) = (
    getattr(TokenRequest, name).__set__
    for name in (
        "app_id",
        "user_id",
        "ttl",
        "room_id",
        "login",
        "publish",
        "stream_ids",
        "kind",
        "user_name",
    )
)


def _plain_request(app_id: int, user_id: str, ttl: int) -> TokenRequest:
    """``TokenRequest(app_id, user_id, ttl)``: a plain token, no room, the defaults elsewhere."""
    request: TokenRequest = _new_object(TokenRequest)
    _set_app_id(request, app_id)
    _set_user_id(request, user_id)
    _set_ttl(request, ttl)
    _set_room_id(request, None)
    _set_login(request, True)
    _set_publish(request, False)
    _set_stream_ids(request, None)
    _set_kind(request, "token")
    _set_user_name(request, "")
    return request


def _count_plain(single: Mapping[str, str]) -> int:
    """How many of the plain token request's names (userID, expired_ts, appID) are given."""
    return ("userID" in single) + ("expired_ts" in single) + ("appID" in single)


class RequestParser:
    """Validates requests against the library's ID rules and the configured TTL bounds."""

    def __init__(self, config: MintConfig) -> None:
        self.default_app = config.apps[0].app_id
        self.app_ids = frozenset(app.app_id for app in config.apps)
        self.default_ttl = config.token.default_ttl
        self.min_ttl = config.token.min_ttl
        self.max_ttl = config.token.max_ttl

    # -- GET ------------------------------------------------------------------------------------

    def from_query(self, query: bytes, kind: TokenKind) -> TokenRequest:
        if kind == "token":
            guide = _GUIDE_QUERY.fullmatch(query)
            if guide is not None:
                # What the general parse below makes of this query, in one regex call (a
                # fifth of the server's in-process work for a request was this parse).
                user_id, ttl = guide.groups()
                return _plain_request(
                    self.default_app,
                    user_id.decode("ascii"),
                    self._check_ttl(int(ttl), "expired_ts"),
                )
        return self._from_any_query(query, kind)

    def _from_any_query(self, query: bytes, kind: TokenKind) -> TokenRequest:
        names = QUERY_NAMES[kind]
        pairs = parse_query(query)
        single: dict[str, str] = {}
        streams: list[str] | None = None
        for name, value in pairs:
            if name == "streamID":
                if streams is None:
                    streams = []
                streams.append(value)
            elif name in names:
                if name in single:
                    raise bad(f"{name} is given more than once; give it once")
                single[name] = value
            elif name != CACHE_BUSTER:
                # Ignoring it would hand out a token without the restriction the caller meant
                # (?room_id=r1 for roomID: a token for any room, believed to be for r1).
                raise unknown(name, names, "parameter", _elsewhere(name, kind, "query"))
        user_id = single.get("userID")
        if user_id is None:
            example = "userID=<the user's ID>&expired_ts=3600"
            if kind == "kit":
                example += "&roomID=<room>&userName=<name>"
            raise bad(f"userID is required: ?{example}", "missing_parameter")
        ttl = self._query_ttl(single.get("expired_ts"))
        app_id = self._query_app_id(single.get("appID"))
        if kind == "token" and streams is None and len(single) == _count_plain(single):
            # The request of ZEGO's guide (userID, expired_ts, maybe appID): a plain token. What
            # _build checks for it is the user ID, inline here for the usual ASCII one.
            if not (user_id.isascii() and 0 < len(user_id) <= MAX_USER_ID_BYTES):
                try:
                    check_user_id(user_id)
                except InvalidParameter as exc:
                    raise bad(str(exc)) from None
            return _plain_request(app_id, user_id, ttl)
        publish = self._query_flag(single, "publish")
        login = self._query_flag(single, "login")
        return self._build(
            kind,
            app_id=app_id,
            user_id=user_id,
            ttl=ttl,
            room_id=single.get("roomID"),
            login=login,
            publish=publish,
            stream_ids=streams,
            user_name=single.get("userName"),
            names=("userID", "roomID", "publish", "login", "streamID", "userName"),
        )

    def _query_ttl(self, text: str | None) -> int:
        if text is None:
            return self.default_ttl
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            raise bad(
                f"expired_ts must be a whole number of seconds, e.g. expired_ts=3600 "
                f"({self.min_ttl}..{self.max_ttl})"
            )
        return self._check_ttl(int(text), "expired_ts")

    def _query_app_id(self, text: str | None) -> int:
        if text is None:
            return self.default_app
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            raise bad("appID must be the numeric AppID from the ZEGOCLOUD console")
        return self._check_app_id(int(text), "appID")

    @staticmethod
    def _query_flag(single: Mapping[str, str], name: str) -> bool | None:
        text = single.get(name)
        if text is None:
            return None
        flag = _FLAGS.get(text)
        if flag is None:
            raise bad(f"{name} must be 1 or 0 (or true/false), got {text[:20]!r}")
        return flag

    # -- POST -----------------------------------------------------------------------------------

    def from_json(self, body: bytes, kind: TokenKind) -> TokenRequest:
        if not body.strip():
            raise bad(
                'the body is empty: send JSON such as {"user_id": "alice", "ttl": 3600}',
                "invalid_json",
            )
        try:
            data = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_fields)
        except _RepeatedField as exc:
            raise bad(
                f"{exc.name[:40]!r} is given more than once; give it once", "invalid_json"
            ) from None
        except UnicodeDecodeError:
            raise bad("the body is not UTF-8 JSON", "invalid_json") from None
        except (ValueError, RecursionError) as exc:
            where = (
                f" (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            raise bad(f"the body is not valid JSON{where}", "invalid_json") from None
        if not isinstance(data, dict):
            raise bad('the body must be a JSON object such as {"user_id": "alice"}', "invalid_json")
        allowed = JSON_FIELDS[kind]
        for name, value in data.items():
            if name not in allowed:
                known = {field: field for field in allowed}
                raise unknown(name, known, "field", _elsewhere(name, kind, "json"))
            if value is None:
                raise bad(f"{name} is null: leave it out to use its default")
        user_id = data.get("user_id")
        if user_id is None:
            raise bad('user_id is required: {"user_id": "<the user\'s ID>"}', "missing_parameter")
        if not isinstance(user_id, str):
            raise bad("user_id must be a string")
        ttl_value = data.get("ttl")
        if ttl_value is None:
            ttl = self.default_ttl
        elif not isinstance(ttl_value, int) or isinstance(ttl_value, bool):
            raise bad(f"ttl must be a whole number of seconds ({self.min_ttl}..{self.max_ttl})")
        else:
            ttl = self._check_ttl(ttl_value, "ttl")
        app_value = data.get("app_id")
        if app_value is None:
            app_id = self.default_app
        elif not isinstance(app_value, int) or isinstance(app_value, bool):
            raise bad("app_id must be the numeric AppID from the ZEGOCLOUD console")
        else:
            app_id = self._check_app_id(app_value, "app_id")
        room_id = data.get("room_id")
        if room_id is not None and not isinstance(room_id, str):
            raise bad("room_id must be a string")
        flags: dict[str, bool | None] = {}
        for name in ("login", "publish"):
            value = data.get(name)
            if value is not None and not isinstance(value, bool):
                raise bad(f"{name} must be true or false")
            flags[name] = value
        streams = data.get("stream_ids")
        if streams is not None and (
            not isinstance(streams, list) or not all(isinstance(s, str) for s in streams)
        ):
            raise bad("stream_ids must be a list of strings")
        user_name = data.get("user_name")
        if user_name is not None and not isinstance(user_name, str):
            raise bad("user_name must be a string")
        return self._build(
            kind,
            app_id=app_id,
            user_id=user_id,
            ttl=ttl,
            room_id=room_id,
            login=flags["login"],
            publish=flags["publish"],
            stream_ids=streams,
            user_name=user_name,
            names=("user_id", "room_id", "publish", "login", "stream_ids", "user_name"),
        )

    # -- shared ---------------------------------------------------------------------------------

    def _check_ttl(self, ttl: int, name: str) -> int:
        if ttl > self.max_ttl:
            raise HttpError(
                422,
                "ttl_out_of_range",
                f"{name} is {ttl} s; the maximum is {self.max_ttl} s; not clamped: ask for "
                f"{self.max_ttl} or less",
            )
        if ttl < self.min_ttl:
            raise HttpError(
                422,
                "ttl_out_of_range",
                f"{name} is {ttl} s; the minimum is {self.min_ttl} s; not clamped: ask for "
                f"{self.min_ttl} or more",
            )
        return ttl

    def _check_app_id(self, app_id: int, name: str) -> int:
        if app_id not in self.app_ids:
            raise HttpError(
                400,
                "unknown_app_id",
                f"{name} {app_id} is not an app this server has a ServerSecret for; leave it "
                "out to use the default app",
            )
        return app_id

    def _build(
        self,
        kind: TokenKind,
        *,
        app_id: int,
        user_id: str,
        ttl: int,
        room_id: str | None,
        login: bool | None,
        publish: bool | None,
        stream_ids: list[str] | None,
        user_name: str | None,
        names: tuple[str, str, str, str, str, str],
    ) -> TokenRequest:
        room_name = names[1]
        if stream_ids is not None and not stream_ids:
            # ZEGO grants any stream for an empty list: what was meant as "none" would be "all".
            raise bad(
                f'{names[4]} is empty, which ZEGO reads as "any stream", not "no stream": name '
                f"the stream IDs, or leave {names[4]} out for any stream where this server "
                "allows it; ask with publish=false for no publishing",
                "empty_stream_list",
            )
        try:
            check_user_id(user_id)
            if room_id is not None:
                check_room_id(room_id)
            elif kind == "kit":
                raise bad(
                    f"{room_name} is required for a kit token: the UIKit joins that room",
                    "missing_parameter",
                )
            elif publish is not None or login is not None or stream_ids is not None:
                raise bad(
                    f"{names[2]}, {names[3]} and {names[4]} need {room_name}: privileges are "
                    "granted per room"
                )
            streams: tuple[str, ...] | None = None
            if stream_ids is not None:
                if len(stream_ids) > MAX_STREAM_IDS:
                    raise bad(f"at most {MAX_STREAM_IDS} stream IDs per token")
                streams = tuple(check_stream_id(s) for s in stream_ids)
            if kind == "kit":
                if not user_id.isascii() or (room_id is not None and not room_id.isascii()):
                    raise bad(
                        f"{names[0]} and {room_name} must be ASCII in a kit token: the UIKit's "
                        "btoa() cannot encode anything else"
                    )
                check_user_name(user_name if user_name is not None else user_id)
        except InvalidParameter as exc:
            raise bad(str(exc)) from None
        # Positional: a frozen dataclass's keyword call costs ~40 % more, once per request.
        return TokenRequest(
            app_id,
            user_id,
            ttl,
            room_id,
            True if login is None else login,
            bool(publish),
            streams,
            kind,
            "" if kind == "token" else (user_id if user_name is None else user_name),
        )
