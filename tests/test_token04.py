"""Minting and verifying Token04: round trips and every way a token or an argument is refused."""

from __future__ import annotations

import base64
import enum
import json
import struct
import sys
import threading
import time

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zego_token import (
    AppIdMismatch,
    DecryptionFailed,
    InvalidParameter,
    InvalidToken,
    MalformedToken,
    Privileges,
    TokenExpired,
    UserIdMismatch,
    ZegoTokenError,
    decode_token04,
    encode_token04,
    generate_token04,
    privilege_payload,
    read_header,
)
from zego_token.token04 import Mode

OTHER_SECRET = "fedcba9876543210fedcba9876543210"


def _body(token: str) -> bytes:
    return base64.b64decode(token[2:])


def _token(body: bytes) -> str:
    return "04" + base64.b64encode(body).decode()


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
def test_round_trip(secret: str, mode: str) -> None:
    before = int(time.time())
    token = generate_token04(1234567890, "alice", secret, 3600, mode=mode)  # type: ignore[arg-type]
    decoded = decode_token04(token, secret, app_id=1234567890, user_id="alice")
    assert decoded.mode == mode
    assert decoded.app_id == 1234567890 and decoded.user_id == "alice"
    assert before <= decoded.ctime <= int(time.time())
    assert decoded.expire - decoded.ctime == 3600
    assert decoded.payload == "" and decoded.privileges is None
    assert -(2**31) <= decoded.nonce < 2**31


def test_round_trip_with_privileges_and_unicode(secret: str) -> None:
    payload = privilege_payload("room-1", publish=True, stream_ids=["room-1_zoë_main"])
    token = generate_token04(7, "zoë", secret, 60, payload)
    decoded = decode_token04(token, secret)
    assert decoded.user_id == "zoë"
    assert decoded.privileges == Privileges("room-1", True, True, ("room-1_zoë_main",))


def test_plaintext_is_compact_and_unescaped(secret: str) -> None:
    iv = bytes(12)
    token = encode_token04(
        app_id=1, user_id="李", secret=secret, ctime=10, expire=20, nonce=-5, iv=iv
    )
    body = _body(token)
    sealed = body[8 + 2 + 12 + 2 : -1]
    plaintext = AESGCM(secret.encode()).decrypt(iv, sealed, None)
    assert (
        plaintext
        == ('{"app_id":1,"user_id":"李","nonce":-5,"ctime":10,"expire":20,"payload":""}').encode()
    )


class _Number(int):
    def __format__(self, spec: str) -> str:
        return "not a number"

    def __repr__(self) -> str:
        return "not a number"


class _Text(str):
    def __str__(self) -> str:
        return "not the text"


class _Level(enum.IntEnum):
    FIVE = 5


def test_int_and_str_subclasses_are_written_as_their_values(secret: str) -> None:
    # As json.dumps writes them, so the claims stay JSON whatever the subclass formats itself as.
    iv = bytes(12)
    token = encode_token04(
        app_id=_Level.FIVE,
        user_id=_Text("u"),
        secret=secret,
        ctime=_Number(10),
        expire=_Number(20),
        nonce=_Number(-5),
        payload=_Text("p"),
        iv=iv,
    )
    sealed = _body(token)[8 + 2 + 12 + 2 : -1]
    plaintext = AESGCM(secret.encode()).decrypt(iv, sealed, None)
    expected = {"app_id": 5, "user_id": "u", "nonce": -5, "ctime": 10, "expire": 20}
    assert json.loads(plaintext) == {**expected, "payload": "p"}
    assert plaintext == json.dumps(
        {**expected, "payload": "p"}, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    decoded = decode_token04(token, secret, verify_expiry=False)
    assert (decoded.app_id, decoded.user_id, decoded.payload) == (5, "u", "p")


def test_layout_of_gcm_and_cbc(secret: str) -> None:
    gcm = _body(generate_token04(1, "u", secret, 10))
    cbc = _body(generate_token04(1, "u", secret, 10, mode="cbc"))
    assert struct.unpack(">H", gcm[8:10]) == (12,) and gcm[-1] == 1
    assert struct.unpack(">H", cbc[8:10]) == (16,)
    (ct_len,) = struct.unpack(">H", cbc[26:28])
    assert len(cbc) == 28 + ct_len and ct_len % 16 == 0  # no mode byte


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
def test_the_base64_is_the_standard_one_for_every_body_length(secret: str, mode: Mode) -> None:
    # msgspec writes it, not binascii: each length modulo 3 (its padding) gives the stdlib's text.
    for size in range(48):
        token = generate_token04(1, "u", secret, 10, "p" * size, mode=mode)
        assert token == "04" + base64.b64encode(_body(token)).decode("ascii")


def test_ivs_and_nonces_differ_between_tokens(secret: str) -> None:
    tokens = {generate_token04(1, "u", secret, 10) for _ in range(50)}
    assert len(tokens) == 50
    nonces = {decode_token04(t, secret).nonce for t in tokens}
    assert len(nonces) > 45


def test_cbc_with_trailing_mode_byte_zero_decodes(secret: str) -> None:
    token = generate_token04(1, "u", secret, 10, mode="cbc")
    assert decode_token04(_token(_body(token) + b"\x00"), secret).mode == "cbc"


def test_header_readable_without_secret(secret: str) -> None:
    token = encode_token04(
        app_id=1, user_id="u", secret=secret, ctime=100, expire=200, nonce=1, mode="cbc"
    )
    header = read_header(token)
    assert (header.version, header.mode, header.expire, header.iv_length) == ("04", "cbc", 200, 16)


# --- refusals of tokens -------------------------------------------------------------------


def test_wrong_secret_gcm(secret: str) -> None:
    token = generate_token04(1, "u", secret, 10)
    with pytest.raises(DecryptionFailed, match="ServerSecret"):
        decode_token04(token, OTHER_SECRET)


def test_wrong_secret_cbc(secret: str) -> None:
    token = generate_token04(1, "u", secret, 10, mode="cbc")
    with pytest.raises(DecryptionFailed):
        decode_token04(token, OTHER_SECRET)


def test_expired_carries_expire(secret: str) -> None:
    token = encode_token04(app_id=1, user_id="u", secret=secret, ctime=100, expire=200, nonce=1)
    with pytest.raises(TokenExpired) as caught:
        decode_token04(token, secret, now=200)
    assert caught.value.expire == 200
    assert decode_token04(token, secret, now=199).expire == 200
    assert decode_token04(token, secret, now=205, leeway=10).expire == 200
    assert decode_token04(token, secret, verify_expiry=False).expire == 200
    with pytest.raises(InvalidParameter):
        decode_token04(token, secret, now=0, leeway=-1)


def test_mismatches(secret: str) -> None:
    token = generate_token04(5, "alice", secret, 10)
    with pytest.raises(AppIdMismatch) as app:
        decode_token04(token, secret, app_id=6)
    assert (app.value.expected, app.value.actual) == (6, 5)
    with pytest.raises(UserIdMismatch) as user:
        decode_token04(token, secret, user_id="bob")
    assert (user.value.expected, user.value.actual) == ("bob", "alice")


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
def test_edited_header_expiry_is_refused(secret: str, mode: str) -> None:
    token = generate_token04(1, "u", secret, 10, mode=mode)  # type: ignore[arg-type]
    body = bytearray(_body(token))
    body[0:8] = struct.pack(">q", 2**40)
    with pytest.raises(DecryptionFailed, match="altered"):
        decode_token04(_token(bytes(body)), secret)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("03AAAA", "version"),
        ("04!!!!", "base64"),
        ("04AAAA", "too short"),
        ("04" + "A" * 20000, "longer"),
        ("04" + base64.b64encode(struct.pack(">qH", 1, 12) + b"x" * 5).decode(), "truncated"),
        ("tok#abc", "kit token"),
    ],
)
def test_malformed(secret: str, text: str, fragment: str) -> None:
    with pytest.raises(MalformedToken, match=fragment):
        decode_token04(text, secret)


def test_not_a_string(secret: str) -> None:
    with pytest.raises(MalformedToken):
        decode_token04(b"04AAAA", secret)  # type: ignore[arg-type]


def test_wrong_iv_length_for_mode(secret: str) -> None:
    body = struct.pack(">qH", 1, 16) + bytes(16) + struct.pack(">H", 16) + bytes(16) + b"\x01"
    with pytest.raises(MalformedToken, match="12"):
        decode_token04(_token(body), secret)


def test_garbage_after_ciphertext(secret: str) -> None:
    token = generate_token04(1, "u", secret, 10)
    with pytest.raises(MalformedToken, match="unexpected"):
        decode_token04(_token(_body(token) + b"\x07"), secret)


def test_claims_with_wrong_types_are_refused(secret: str) -> None:
    iv = bytes(12)
    plaintext = json.dumps({"app_id": "1", "user_id": "u", "nonce": 1, "ctime": 1, "expire": 9})
    sealed = AESGCM(secret.encode()).encrypt(iv, plaintext.encode(), None)
    body = struct.pack(">qH", 9, 12) + iv + struct.pack(">H", len(sealed)) + sealed + b"\x01"
    with pytest.raises(MalformedToken, match="claims"):
        decode_token04(_token(body), secret, now=0)


def test_errors_form_one_tree() -> None:
    for cls in (MalformedToken, DecryptionFailed, TokenExpired, AppIdMismatch, UserIdMismatch):
        assert issubclass(cls, InvalidToken) and issubclass(cls, ZegoTokenError)
    assert issubclass(InvalidParameter, ZegoTokenError) and issubclass(InvalidParameter, ValueError)


# --- refusals of arguments ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code", "fragment"),
    [
        ({"app_id": 0}, 1, "app_id"),
        ({"app_id": 2**32}, 1, "app_id"),
        ({"app_id": True}, 1, "app_id"),
        ({"app_id": "1"}, 1, "app_id"),
        ({"user_id": ""}, 3, "non-empty"),
        ({"user_id": "x" * 65}, 3, "65 bytes; ZEGO allows at most 64"),
        ({"user_id": "é" * 33}, 3, "66 bytes"),
        ({"user_id": "\ud800"}, 3, "surrogates"),
        ({"user_id": 5}, 3, "string"),
        ({"secret": "short"}, 5, "32 ASCII"),
        ({"secret": "é" * 32}, 5, "non-ASCII"),
        ({"secret": None}, 5, "ServerSecret"),
        ({"effective_time_in_seconds": 0}, 6, "positive"),
        ({"effective_time_in_seconds": -5}, 6, "positive"),
        ({"effective_time_in_seconds": 1.5}, 6, "positive"),
        ({"effective_time_in_seconds": 2**31}, 6, "positive"),
        ({"mode": "ecb"}, 0, "mode"),
        ({"payload": 7}, 0, "payload"),
    ],
)
def test_generate_validates(
    secret: str, kwargs: dict[str, object], code: int, fragment: str
) -> None:
    args: dict[str, object] = {
        "app_id": 1,
        "user_id": "u",
        "secret": secret,
        "effective_time_in_seconds": 60,
    }
    args.update(kwargs)
    with pytest.raises(InvalidParameter, match=fragment) as caught:
        generate_token04(**args)  # type: ignore[arg-type]
    assert caught.value.code == code
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"nonce": 2**31}, "nonce"),
        ({"ctime": -1}, "ctime"),
        ({"expire": 2**63}, "expire"),
        ({"iv": bytes(16)}, "12 bytes"),
        ({"iv": "x" * 12}, "12 bytes"),
    ],
)
def test_encode_validates(secret: str, kwargs: dict[str, object], fragment: str) -> None:
    args: dict[str, object] = {
        "app_id": 1,
        "user_id": "u",
        "secret": secret,
        "ctime": 1,
        "expire": 2,
        "nonce": 3,
    }
    args.update(kwargs)
    with pytest.raises(InvalidParameter, match=fragment):
        encode_token04(**args)  # type: ignore[arg-type]


def test_decode_validates_secret() -> None:
    with pytest.raises(InvalidParameter) as caught:
        decode_token04("04AAAA", "too-short-secret")
    assert caught.value.code == 5
    assert "too-short-secret" not in str(caught.value)


def test_many_secrets_each_keep_their_own_key() -> None:
    # More secrets than the per-secret key cache keeps, each used twice, out of order.
    secrets = [f"{index:032x}" for index in range(200)]
    tokens = [generate_token04(1, "u", secret, 60) for secret in secrets]
    for secret, token in reversed(list(zip(secrets, tokens, strict=True))):
        assert decode_token04(token, secret).user_id == "u"
        with pytest.raises(DecryptionFailed):
            decode_token04(token, secrets[(secrets.index(secret) + 1) % len(secrets)])


class _EqualToEverything(str):
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash(OTHER_SECRET)


def test_a_str_subclass_secret_never_finds_another_secrets_key(secret: str) -> None:
    generate_token04(1, "u", OTHER_SECRET, 60)  # OTHER_SECRET's key is now cached
    token = generate_token04(1, "u", secret, 60)
    lookalike = _EqualToEverything(secret)
    assert decode_token04(token, lookalike).user_id == "u"
    with pytest.raises(DecryptionFailed):
        decode_token04(generate_token04(1, "u", OTHER_SECRET, 60), lookalike)


def test_threads_sharing_the_key_cache_with_more_secrets_than_it_keeps() -> None:
    secrets = [f"{index:032x}" for index in range(130)]
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for step in range(400):
                secret = secrets[(offset * 37 + step * 7) % len(secrets)]
                assert decode_token04(generate_token04(1, "u", secret, 60), secret).app_id == 1
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(index,)) for index in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
