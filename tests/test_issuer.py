"""TokenIssuer: one app bound once; seconds or timedelta; max TTL refused; repr without secret."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from zego_token import (
    AppIdMismatch,
    DecryptionFailed,
    HeaderAltered,
    InvalidParameter,
    Privileges,
    TokenExpired,
    TokenIssuer,
    UserIdMismatch,
    decode_token04,
    generate_token04,
    parse_kit_token,
)
from zego_token.token04 import encode_token04

APP_ID = 1234567890
SECRET = "fa94dd0f974cf2e293728a526b028271"
OTHER_SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(APP_ID, SECRET, default_ttl=3600, max_ttl=86400)


def test_a_token_without_ttl_lives_the_default_ttl(issuer: TokenIssuer) -> None:
    issued = issuer.token("alice")
    claims = decode_token04(issued.token, SECRET, app_id=APP_ID, user_id="alice")
    assert claims.expire - claims.ctime == 3600
    assert issued.expire == claims.expire
    assert claims.payload == ""


def test_ttl_takes_a_timedelta(issuer: TokenIssuer) -> None:
    issued = issuer.token("alice", ttl=timedelta(hours=2))
    claims = issuer.verify(issued.token, user_id="alice")
    assert claims.expire - claims.ctime == 7200


def test_ttl_takes_seconds(issuer: TokenIssuer) -> None:
    claims = issuer.verify(issuer.token("alice", ttl=86400).token)
    assert claims.expire - claims.ctime == 86400


def test_a_ttl_over_max_ttl_is_refused_not_clamped(issuer: TokenIssuer) -> None:
    with pytest.raises(InvalidParameter, match="maximum is 86400 s") as caught:
        issuer.token("alice", ttl=timedelta(days=2))
    assert caught.value.parameter == "ttl"
    with pytest.raises(InvalidParameter, match="not clamped"):
        issuer.token("alice", ttl=86401)


def test_a_fractional_timedelta_is_refused(issuer: TokenIssuer) -> None:
    with pytest.raises(InvalidParameter, match="whole seconds"):
        issuer.token("alice", ttl=timedelta(seconds=90.5))


@pytest.mark.parametrize("ttl", [0, -5, 1.5, True, "3600"])
def test_a_ttl_that_is_not_positive_whole_seconds_is_refused(
    issuer: TokenIssuer, ttl: object
) -> None:
    with pytest.raises(InvalidParameter, match="positive whole number"):
        issuer.token("alice", ttl=ttl)  # type: ignore[arg-type]


def test_a_default_ttl_over_max_ttl_is_refused_at_construction() -> None:
    with pytest.raises(InvalidParameter, match="default_ttl"):
        TokenIssuer(APP_ID, SECRET, default_ttl=7200, max_ttl=3600)


def test_a_bad_secret_is_refused_at_construction() -> None:
    with pytest.raises(InvalidParameter):
        TokenIssuer(APP_ID, "short")


def test_repr_never_shows_the_secret(issuer: TokenIssuer) -> None:
    text = repr(issuer)
    assert SECRET not in text
    assert str(APP_ID) in text
    assert SECRET not in str(issuer)


def test_a_room_token_carries_the_room_privileges(issuer: TokenIssuer) -> None:
    issued = issuer.token("alice", room_id="team-1", publish=True, stream_ids=["team-1_alice_cam"])
    claims = issuer.verify(issued.token, user_id="alice")
    assert claims.privileges == Privileges(
        "team-1", login=True, publish=True, stream_ids=("team-1_alice_cam",)
    )


def test_publish_without_a_room_is_refused(issuer: TokenIssuer) -> None:
    with pytest.raises(InvalidParameter, match="need room_id"):
        issuer.token("alice", publish=True)


def test_kit_token_composes_a_room_token_and_the_user(issuer: TokenIssuer) -> None:
    kit = issuer.kit_token("alice", "team-1", user_name="Alice")
    parsed = parse_kit_token(kit.kit_token)
    assert (parsed.app_id, parsed.user_id, parsed.room_id, parsed.user_name) == (
        APP_ID,
        "alice",
        "team-1",
        "Alice",
    )
    assert parsed.token == kit.token
    claims = issuer.verify(kit.token, user_id="alice")
    assert claims.privileges is not None and claims.privileges.room_id == "team-1"
    assert claims.expire == kit.expire


def test_verify_refuses_another_users_token(issuer: TokenIssuer) -> None:
    with pytest.raises(UserIdMismatch):
        issuer.verify(issuer.token("alice").token, user_id="bob")


def test_verify_refuses_another_apps_token(issuer: TokenIssuer) -> None:
    token = generate_token04(APP_ID + 1, "alice", SECRET, 3600)
    with pytest.raises(AppIdMismatch):
        issuer.verify(token)


def test_verify_refuses_a_token_of_another_secret(issuer: TokenIssuer) -> None:
    token = generate_token04(APP_ID, "alice", OTHER_SECRET, 3600)
    with pytest.raises(DecryptionFailed) as caught:
        issuer.verify(token)
    assert not isinstance(caught.value, HeaderAltered)


def test_verify_refuses_an_expired_token(issuer: TokenIssuer) -> None:
    now = int(time.time())
    token = encode_token04(
        app_id=APP_ID, user_id="alice", secret=SECRET, ctime=now - 100, expire=now - 10, nonce=1
    )
    with pytest.raises(TokenExpired):
        issuer.verify(token)
    assert issuer.verify(token, verify_expiry=False).user_id == "alice"


def test_an_edited_header_expiry_raises_header_altered() -> None:
    import base64
    import struct

    token = generate_token04(APP_ID, "alice", SECRET, 3600)
    raw = bytearray(base64.b64decode(token[2:]))
    (expire,) = struct.unpack(">q", raw[:8])
    raw[:8] = struct.pack(">q", expire + 3600)
    edited = "04" + base64.b64encode(bytes(raw)).decode()
    with pytest.raises(HeaderAltered) as caught:
        decode_token04(edited, SECRET)
    assert isinstance(caught.value, DecryptionFailed)  # callers catching the parent still do
    assert caught.value.claims_expire == expire
    assert caught.value.header_expire == expire + 3600


def test_generate_token04_takes_privileges_and_timedelta() -> None:
    token = generate_token04(
        APP_ID, "alice", SECRET, timedelta(minutes=10), Privileges("room-1", publish=True)
    )
    claims = decode_token04(token, SECRET)
    assert claims.expire - claims.ctime == 600
    assert claims.privileges == Privileges("room-1", login=True, publish=True)
    assert claims.payload == Privileges("room-1", publish=True).to_payload()
