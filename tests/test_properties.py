"""Property tests: valid input round-trips; any string at all fails only as ZegoTokenError."""

from __future__ import annotations

import base64
import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from zego_token import (
    ZegoTokenError,
    decode_token04,
    encode_token04,
    kit_token_for_production,
    parse_kit_token,
    parse_privileges,
    privilege_payload,
)

SECRET = "0123456789abcdef0123456789abcdef"

user_ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=16)
ascii_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)


@settings(max_examples=300)
@given(
    app_id=st.integers(1, 2**32 - 1),
    user_id=user_ids,
    ctime=st.integers(0, 2**40),
    ttl=st.integers(1, 2**31 - 1),
    nonce=st.integers(-(2**31), 2**31 - 1),
    payload=st.text(st.characters(blacklist_categories=("Cs",)), max_size=64),
    mode=st.sampled_from(["gcm", "cbc"]),
)
def test_round_trip(
    app_id: int, user_id: str, ctime: int, ttl: int, nonce: int, payload: str, mode: str
) -> None:
    token = encode_token04(
        app_id=app_id,
        user_id=user_id,
        secret=SECRET,
        ctime=ctime,
        expire=ctime + ttl,
        nonce=nonce,
        payload=payload,
        mode=mode,  # type: ignore[arg-type]
    )
    decoded = decode_token04(token, SECRET, app_id=app_id, user_id=user_id, now=ctime)
    assert (decoded.nonce, decoded.payload, decoded.mode) == (nonce, payload, mode)


@settings(max_examples=200)
@given(
    room=ascii_ids,
    user=ascii_ids,
    name=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)
def test_kit_round_trip(room: str, user: str, name: str) -> None:
    kit = parse_kit_token(kit_token_for_production(1, "04AAAA", room, user, name))
    assert (kit.room_id, kit.user_id, kit.user_name) == (room, user, name)


@settings(max_examples=200)
@given(
    room=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30),
    login=st.booleans(),
    publish=st.booleans(),
    # An empty list is refused (ZEGO reads it as any stream): tests/test_empty_stream_list.py.
    streams=st.none()
    | st.lists(
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
        min_size=1,
        max_size=3,
    ),
)
def test_privileges_round_trip(
    room: str, login: bool, publish: bool, streams: list[str] | None
) -> None:
    parsed = parse_privileges(
        privilege_payload(room, login=login, publish=publish, stream_ids=streams)
    )
    assert (parsed.room_id, parsed.login, parsed.publish) == (room, login, publish)
    assert parsed.stream_ids == (None if streams is None else tuple(streams))


def _only_zego_errors(call: object) -> None:
    with contextlib.suppress(ZegoTokenError):
        call()  # type: ignore[operator]


@settings(max_examples=1000)
@given(st.text(max_size=300))
def test_any_text_into_decoder(text: str) -> None:
    _only_zego_errors(lambda: decode_token04(text, SECRET))
    _only_zego_errors(lambda: decode_token04("04" + text, SECRET))
    _only_zego_errors(lambda: parse_kit_token(text))
    _only_zego_errors(lambda: parse_privileges(text))


@settings(max_examples=1000)
@given(st.binary(max_size=300))
def test_any_body_into_decoder(body: bytes) -> None:
    token = "04" + base64.b64encode(body).decode()
    _only_zego_errors(lambda: decode_token04(token, SECRET))
    _only_zego_errors(lambda: parse_kit_token("04AAAA#" + base64.b64encode(body).decode()))
