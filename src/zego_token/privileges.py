"""Room privileges carried in a strict token's payload, as named fields instead of ZEGO's keys.

On the wire the payload is ``{"room_id": ..., "privilege": {"1": login, "2": publish},
"stream_id_list": null | [...]}``; key 1 lets the user log in to the room, key 2 lets it publish.
ZEGO reads an empty ``stream_id_list`` exactly like ``null``: any stream. So "any stream" is
asked for with ``None`` and an empty sequence is refused wherever stream IDs are accepted: an
empty list meant as "no stream" would hand out a token that publishes every stream in the room.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InvalidParameter, InvalidPrivilegePayload
from .limits import check_room_id, check_stream_id

_LOGIN = "1"
_PUBLISH = "2"
_STREAMS = "stream_id_list"

EMPTY_STREAM_LIST = (
    'stream_ids is empty, which ZEGO reads as "any stream", not "no stream": a publish token '
    "with an empty stream list may publish every stream in the room, other users' included; "
    "pass None (omit it) for any stream, name the stream IDs, or grant publish=False for no "
    "publishing"
)


@dataclass(frozen=True, slots=True)
class Privileges:
    """What a strict token allows in one room. ``stream_ids`` None means any stream; an empty
    tuple is refused (``InvalidParameter``), since ZEGO would read it as any stream too."""

    room_id: str
    login: bool = True
    publish: bool = False
    stream_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.stream_ids is not None:
            streams = _stream_sequence(self.stream_ids)
            if type(self.stream_ids) is not tuple:
                object.__setattr__(self, "stream_ids", streams)

    def to_payload(self) -> str:
        return privilege_payload(
            self.room_id, login=self.login, publish=self.publish, stream_ids=self.stream_ids
        )


def privilege_payload(
    room_id: str,
    *,
    login: bool = True,
    publish: bool = False,
    stream_ids: Iterable[str] | None = None,
) -> str:
    """Return the payload string for a strict token.

    The text is what the official generators' samples produce (``json.dumps`` with its default
    ``", "`` and ``": "`` separators), so a payload made here equals theirs byte for byte.
    """
    check_room_id(room_id)
    if not isinstance(login, bool) or not isinstance(publish, bool):
        raise InvalidParameter("login and publish must be True or False", parameter="privilege")
    streams: list[str] | None = None
    if stream_ids is not None:
        streams = [check_stream_id(s) for s in _stream_sequence(stream_ids)]
    return json.dumps(
        {
            "room_id": room_id,
            "privilege": {_LOGIN: int(login), _PUBLISH: int(publish)},
            "stream_id_list": streams,
        }
    )


def parse_privileges(payload: str) -> Privileges:
    """Parse a privilege payload; raise ``InvalidPrivilegePayload`` saying what is off."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError, TypeError):
        raise InvalidPrivilegePayload(
            "payload is not JSON, so it grants no room privileges"
        ) from None
    if not isinstance(data, dict):
        raise InvalidPrivilegePayload("privilege payload must be a JSON object")
    room_id = data.get("room_id")
    if not isinstance(room_id, str) or not room_id:
        raise InvalidPrivilegePayload('privilege payload needs a non-empty string "room_id"')
    grants = data.get("privilege")
    if not isinstance(grants, dict):
        raise InvalidPrivilegePayload(
            'privilege payload needs "privilege": {"1": 0|1, "2": 0|1} (1 = login, 2 = publish)'
        )
    login = _flag(grants, _LOGIN, "login")
    publish = _flag(grants, _PUBLISH, "publish")
    raw_streams = data.get("stream_id_list")
    streams: tuple[str, ...] | None = None
    if raw_streams is not None:
        if not isinstance(raw_streams, list) or not all(isinstance(s, str) for s in raw_streams):
            raise InvalidPrivilegePayload('"stream_id_list" must be null or a list of strings')
        # ZEGO grants any stream for an empty list, as for null: say so in the value.
        streams = tuple(raw_streams) or None
    return Privileges(room_id=room_id, login=login, publish=publish, stream_ids=streams)


def has_empty_stream_list(payload: str) -> bool:
    """Whether ZEGO would read an empty ``stream_id_list`` in ``payload`` (JSON or not).

    Every spelling counts: JSON escapes in the key, any whitespace, a repeated key (JSON parsers
    differ on which one wins) and nested objects.
    """
    if "\\u" not in payload:
        count = payload.count(_STREAMS)
        if count == 0:
            return False
        # The payloads privilege_payload() writes, decided without parsing: the one key,
        # unescaped, followed by null or by a list whose first item is a string.
        if count == 1 and (
            '"stream_id_list": null' in payload or '"stream_id_list": ["' in payload
        ):
            return False
    found = False

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal found
        found = found or any(key == _STREAMS and value == [] for key, value in items)
        return dict(items)

    try:
        json.loads(payload, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return False  # not JSON: ZEGO reads no privileges from it
    return found


def check_payload_streams(payload: object) -> None:
    """Refuse a payload that is not a string, or that ZEGO would read as "any stream" through
    an empty list."""
    if not isinstance(payload, str):
        raise InvalidParameter("payload must be a string", parameter="payload")
    if has_empty_stream_list(payload):
        raise InvalidParameter(
            'the payload\'s "stream_id_list" is empty, which ZEGO reads as "any stream", not "no '
            'stream": a publish token with it may publish every stream in the room; write null '
            "for any stream or list the stream IDs, and set privilege 2 to 0 for no publishing",
            parameter="payload",
        )


def _stream_sequence(stream_ids: Iterable[str]) -> tuple[str, ...]:
    if isinstance(stream_ids, str):
        # A bare string would silently become one stream ID per character.
        raise InvalidParameter(
            "stream_ids must be a list of stream IDs, not a single string",
            parameter="stream_ids",
        )
    streams = tuple(stream_ids)
    if not streams:
        raise InvalidParameter(EMPTY_STREAM_LIST, parameter="stream_ids")
    return streams


def try_parse_privileges(payload: str) -> Privileges | None:
    """The privileges in ``payload``, or None when it is empty or not privilege JSON."""
    if not payload:
        return None
    try:
        return parse_privileges(payload)
    except InvalidPrivilegePayload:
        return None


def _flag(grants: dict[str, object], key: str, name: str) -> bool:
    value = grants.get(key, 0)
    # ZEGO writes 0 or 1; a JSON true/false would be read differently by other servers.
    if type(value) is not int or value not in (0, 1):
        raise InvalidPrivilegePayload(f'privilege "{key}" ({name}) must be 0 or 1')
    return value == 1
