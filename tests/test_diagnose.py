"""The "explain this token" engine: what it reads, what it finds, and what it never reveals."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SECRET, load_vectors
from zego_token import (
    InvalidParameter,
    encode_token04,
    kit_token_for_production,
    parse_privileges,
    privilege_payload,
)
from zego_token.diagnose import Diagnosis, diagnose, duration, expiry_phrase, iso_utc

VECTORS = load_vectors("token04-official.json") + load_vectors("token04-official-decode-only.json")
OTHER_SECRET = "fedcba9876543210fedcba9876543210"
APP_ID = 1234567890
CTIME = 1764460800


def seal(
    claims: dict[str, Any] | bytes,
    secret: str = SECRET,
    *,
    mode: str = "gcm",
    expire: int | None = None,
) -> str:
    """Encrypt any claims JSON into a Token04 layout: tokens no well-behaved generator makes.

    Used for the UIKit's CBC tokens without a "payload" key, user IDs the library refuses to
    encode, and other damage a real integrator meets.
    """
    plaintext = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    if expire is None:
        expire = claims["expire"] if isinstance(claims, dict) else CTIME + 3600
    key = secret.encode()
    if mode == "gcm":
        iv = os.urandom(12)
        sealed, tail = AESGCM(key).encrypt(iv, plaintext, None), b"\x01"
    else:
        iv = os.urandom(16)
        pad = 16 - len(plaintext) % 16
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        sealed = encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
        tail = b""
    body = struct.pack(">qH", expire, len(iv)) + iv + struct.pack(">H", len(sealed)) + sealed
    return "04" + base64.b64encode(body + tail).decode()


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "app_id": APP_ID,
        "user_id": "host_42",
        "nonce": 7,
        "ctime": CTIME,
        "expire": CTIME + 3600,
        "payload": "",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(
    *, user_id: str = "host_42", payload: str = "", mode: str = "gcm", ttl: int = 3600
) -> str:
    return encode_token04(
        app_id=APP_ID,
        user_id=user_id,
        secret=SECRET,
        ctime=CTIME,
        expire=CTIME + ttl,
        nonce=7,
        payload=payload,
        mode=mode,  # type: ignore[arg-type]
        # A fixed IV keeps every test on the same bytes (this one puts '+' and '/' in the token).
        iv=bytes(12 if mode == "gcm" else 16),
    )


def codes(diagnosis: Diagnosis) -> list[str]:
    return [f.code for f in diagnosis.findings]


def _id(vector: dict[str, Any]) -> str:
    return f"{vector['source']}-{vector['user_id']}"


# -- official tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_every_official_token_is_valid_and_fully_read(vector: dict[str, Any]) -> None:
    d = diagnose(vector["token"], vector["secret"], now=vector["ctime"])
    assert d.verdict == "valid" and d.valid and d.verified
    assert d.claims is not None and d.header is not None
    assert (d.claims.app_id, d.claims.user_id, d.claims.nonce) == (
        vector["app_id"],
        vector["user_id"],
        vector["nonce"],
    )
    assert (d.claims.ctime, d.claims.expire, d.claims.payload) == (
        vector["ctime"],
        vector["expire"],
        vector["payload"],
    )
    assert d.header.mode == vector["mode"] and d.header.expire == vector["expire"]
    if vector["payload"]:
        assert d.privileges == parse_privileges(vector["payload"])
    # An official CBC token is valid but deprecated; an official GCM token has nothing to say.
    assert codes(d) == (["cbc_token"] if vector["mode"] == "cbc" else [])
    assert [f.severity for f in d.findings] == (["warning"] if vector["mode"] == "cbc" else [])


@pytest.mark.parametrize("vector", VECTORS[:12], ids=_id)
def test_without_secret_only_the_header_is_shown_and_nothing_is_claimed(
    vector: dict[str, Any],
) -> None:
    d = diagnose(vector["token"], now=vector["ctime"])
    assert d.verdict == "unverified" and not d.valid and not d.verified
    assert d.claims is None and d.privileges is None
    assert d.header is not None
    assert d.header.expire == vector["expire"]
    assert d.header.iv_length == (12 if vector["mode"] == "gcm" else 16)
    assert codes(d)[-1] == "not_verified"


def test_official_token_expired_says_how_long_ago() -> None:
    vector = VECTORS[1]  # python-gcm, 1 h token from 2023
    d = diagnose(vector["token"], vector["secret"], now=vector["expire"] + 3 * 3600)
    assert d.verdict == "invalid"
    assert codes(d) == ["expired"]
    assert d.findings[0].message == "the token expired 3 h ago, at 2023-11-14T23:13:20Z"
    assert "mint a new token" in d.findings[0].fix


# -- each finding ------------------------------------------------------------------------------


def test_wrong_secret() -> None:
    d = diagnose(token(), OTHER_SECRET, now=CTIME)
    assert codes(d) == ["wrong_secret"] and d.verdict == "invalid"
    assert "ServerSecret" in d.findings[0].fix
    assert d.claims is None and d.header is not None  # the header is still shown


def test_wrong_secret_on_cbc_is_also_diagnosed() -> None:
    d = diagnose(token(mode="cbc"), OTHER_SECRET, now=CTIME)
    assert codes(d) == ["wrong_secret", "cbc_token"]


@pytest.mark.parametrize("cut", [1, 4, 20, 60])
def test_truncated(cut: int) -> None:
    d = diagnose(token()[:-cut], SECRET, now=CTIME)
    assert d.verdict == "invalid"
    assert codes(d)[0] == "tampered_or_truncated"


def test_header_expiry_edited_is_tampering() -> None:
    body = bytearray(base64.b64decode(token()[2:]))
    body[:8] = struct.pack(">q", CTIME + 86400 * 365)  # "extend" the token by a year
    d = diagnose("04" + base64.b64encode(bytes(body)).decode(), SECRET, now=CTIME)
    assert codes(d) == ["tampered_or_truncated"]
    assert "altered" in d.findings[0].message


def test_every_single_bit_flip_of_a_gcm_token_is_invalid() -> None:
    body = base64.b64decode(token(payload=privilege_payload("room1"))[2:])
    for bit in range(len(body) * 8):
        flipped = bytearray(body)
        flipped[bit // 8] ^= 1 << (bit % 8)
        d = diagnose("04" + base64.b64encode(bytes(flipped)).decode(), SECRET, now=CTIME)
        assert d.verdict == "invalid", f"bit {bit}"
        assert d.errors[0].code in {"tampered_or_truncated", "wrong_secret"}, f"bit {bit}"


def test_expired_and_expires_in() -> None:
    d = diagnose(token(), SECRET, now=CTIME + 3600)
    assert codes(d) == ["expired"]
    assert d.findings[0].message.startswith("the token expired just now")
    fresh = diagnose(token(), SECRET, now=CTIME + 1)
    assert fresh.valid and expiry_phrase(CTIME + 3600, CTIME + 1) == "expires in 59 min"


def test_expired_without_secret_comes_from_the_header() -> None:
    d = diagnose(token(), now=CTIME + 7200)
    assert codes(d) == ["expired"] and d.verdict == "invalid"
    assert "unauthenticated header" in d.findings[0].message


def test_app_id_differs() -> None:
    d = diagnose(token(), SECRET, app_id=42, now=CTIME)
    assert codes(d) == ["app_id_mismatch"]
    assert "AppID 1234567890" in d.findings[0].message and "AppID 42" in d.findings[0].message


def test_user_id_differs() -> None:
    d = diagnose(token(), SECRET, user_id="Host_42", now=CTIME)
    assert codes(d) == ["user_id_mismatch"]
    assert "case-sensitive" in d.findings[0].fix


def test_matching_expectations_are_silent() -> None:
    d = diagnose(token(), SECRET, app_id=APP_ID, user_id="host_42", now=CTIME)
    assert d.valid and codes(d) == []


def test_the_most_fundamental_cause_comes_first() -> None:
    d = diagnose(token(), SECRET, app_id=42, user_id="bob", now=CTIME + 99999)
    assert codes(d) == ["app_id_mismatch", "user_id_mismatch", "expired"]


def test_cbc_token_is_valid_but_warned() -> None:
    d = diagnose(token(mode="cbc"), SECRET, now=CTIME)
    assert d.valid and codes(d) == ["cbc_token"]
    assert "deprecated" in d.findings[0].message and "GCM" in d.findings[0].fix


@pytest.mark.parametrize(
    ("payload", "code", "reason"),
    [
        ("hello", "free_payload", "free text"),
        ('{"demoPayload": ""}', "free_payload", "basic token"),  # ZEGO's own basic sample
        ("[1, 2]", "free_payload", "free text"),
        ('{"room_id": "r1"}', "payload_privileges_malformed", '"privilege"'),
        ('{"room_id": "r1", "privilege": {"1": true}}', "payload_privileges_malformed", "0 or 1"),
    ],
)
def test_payload_that_is_not_privilege_json_leaves_the_token_valid(
    payload: str, code: str, reason: str
) -> None:
    # A basic token may carry any payload: explained (info, or a warning when it looks like
    # privileges gone wrong), never an error.
    d = diagnose(token(payload=payload), SECRET, now=CTIME)
    assert d.valid and d.verdict == "valid"
    assert codes(d) == [code]
    assert reason in d.findings[0].message
    assert d.claims is not None and d.claims.payload == payload
    assert d.as_dict()["claims"]["payload_kind"] == "free"


def test_privileges_are_parsed() -> None:
    payload = privilege_payload("room1", publish=True, stream_ids=["s1", "s2"])
    d = diagnose(token(payload=payload), SECRET, now=CTIME)
    assert d.valid
    assert d.privileges is not None
    assert (d.privileges.room_id, d.privileges.login, d.privileges.publish) == ("room1", True, True)
    assert d.privileges.stream_ids == ("s1", "s2")


def test_login_not_granted_is_a_warning() -> None:
    d = diagnose(token(payload=privilege_payload("room1", login=False)), SECRET, now=CTIME)
    assert d.valid and codes(d) == ["login_not_granted"]


@pytest.mark.parametrize(
    ("user_id", "problem"),
    [
        ("José", "character rules"),
        ("a b", "character rules"),
        ("x" * 65, "65 bytes"),
    ],
)
def test_user_id_breaks_zego_rules(user_id: str, problem: str) -> None:
    # The library refuses to encode 65 bytes, so seal the claims by hand like a foreign generator.
    d = diagnose(seal(claims(user_id=user_id)), SECRET, now=CTIME)
    assert codes(d) == ["user_id_breaks_rules"]
    assert problem in d.findings[0].message


def test_room_id_breaks_zego_rules() -> None:
    payload = json.dumps({"room_id": "salle à manger", "privilege": {"1": 1, "2": 0}})
    d = diagnose(token(payload=payload), SECRET, now=CTIME)
    assert codes(d) == ["room_id_breaks_rules"]


def test_uikit_cbc_token_without_payload_key_is_valid() -> None:
    uikit = seal(claims(payload=None), mode="cbc")  # generateKitTokenForTest omits "payload"
    kit = kit_token_for_production(APP_ID, uikit, "room1", "host_42", "Zoë")
    d = diagnose(kit, SECRET, app_id=APP_ID, user_id="host_42", now=CTIME)
    assert d.valid and d.is_kit_token
    assert codes(d) == ["cbc_token"]
    assert d.kit is not None and d.kit.user_name == "Zoë" and d.kit.room_id == "room1"
    assert d.claims is not None and d.claims.payload == ""


def test_kit_fields_that_disagree_with_the_token_inside() -> None:
    inner = token(payload=privilege_payload("room1"))
    kit = kit_token_for_production(42, inner, "room2", "someone_else", "x")
    d = diagnose(kit, SECRET, now=CTIME)
    assert codes(d) == ["kit_app_id_differs", "kit_user_id_differs", "kit_room_id_differs"]


def test_kit_token_without_secret_shows_fields_and_checks_expectations() -> None:
    kit = kit_token_for_production(APP_ID, token(), "room1", "host_42", "Host")
    d = diagnose(kit, app_id=1, user_id="guest", now=CTIME)
    assert d.kit is not None and d.kit.app_id == APP_ID
    assert codes(d) == ["app_id_mismatch", "user_id_mismatch"]
    assert "kit token is for AppID" in d.findings[0].message


def test_malformed_kit_token_still_reads_the_token_part() -> None:
    d = diagnose(token() + "#not-base64!", SECRET, now=CTIME)
    assert codes(d) == ["malformed_kit_token"]
    assert d.claims is not None  # the token before '#' was still diagnosed


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_token"),
        ("   \n", "empty_token"),
        ("eyJhbGciOiJIUzI1NiJ9.e30.x", "not_token04"),
        ("03AAAA", "not_token04"),
        ("04@@@@", "tampered_or_truncated"),
        ("04AAAA", "tampered_or_truncated"),
    ],
)
def test_not_a_token(text: str, code: str) -> None:
    d = diagnose(text, SECRET, now=CTIME)
    assert codes(d)[0] == code and d.verdict == "invalid"


def test_transport_damage_is_named_and_repaired_to_read_on() -> None:
    good = token()
    assert "+" in good and "/" in good
    for damaged, code in [
        (good.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"), "url_encoded"),
        (good.replace("+", " "), "plus_became_space"),
        (good[:40] + "\n" + good[40:], "line_breaks"),
    ]:
        d = diagnose(damaged, SECRET, now=CTIME)
        assert codes(d) == [code], code
        assert d.claims is not None and d.claims.user_id == "host_42"


def test_clock_ahead_on_the_minting_server() -> None:
    d = diagnose(token(), SECRET, now=CTIME - 3600)
    assert codes(d) == ["created_in_future"]
    assert "1 h ahead" in d.findings[0].message


def test_time_far_outside_the_calendar_does_not_crash() -> None:
    t = encode_token04(
        app_id=1, user_id="u", secret=SECRET, ctime=0, expire=2**63 - 1, nonce=0, payload=""
    )
    d = diagnose(t, SECRET, now=CTIME)
    assert d.valid
    assert d.as_dict()["claims"]["expire_iso"].endswith("(out of calendar range)")


# -- results and arguments ---------------------------------------------------------------------


def test_as_dict_is_json_and_never_holds_the_secret_or_the_token() -> None:
    inner = token(payload=privilege_payload("room1"))
    kit = kit_token_for_production(APP_ID, inner, "room1", "host_42", "Host")
    for d in (diagnose(kit, SECRET, now=CTIME), diagnose(inner, OTHER_SECRET, now=CTIME)):
        text = json.dumps(d.as_dict())
        assert json.loads(text)["verdict"] == d.verdict
        assert SECRET not in text and OTHER_SECRET not in text
        assert inner[2:40] not in text
        assert SECRET not in repr(d) and inner[2:40] not in repr(d)


def test_as_dict_fields() -> None:
    out = diagnose(token(), SECRET, now=CTIME + 60).as_dict()
    assert out["claims"]["ctime_iso"] == "2025-11-30T00:00:00Z"
    assert out["claims"]["expires_in"] == 3540
    assert out["header"]["mode"] == "gcm" and out["header"]["iv_length"] == 12
    assert out["findings"] == [] and out["valid"] is True


def test_diagnosis_is_frozen() -> None:
    d = diagnose(token(), SECRET, now=CTIME)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.valid = False  # type: ignore[misc]


@pytest.mark.parametrize(
    "call",
    [
        lambda: diagnose(None),  # type: ignore[arg-type]
        lambda: diagnose("04", "short"),
        lambda: diagnose("04", "é" * 32),
        lambda: diagnose("04", app_id=0),
        lambda: diagnose("04", user_id=5),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_raise_invalid_parameter(call: Any) -> None:
    with pytest.raises(InvalidParameter) as caught:
        call()
    assert "é" not in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (45, "45 s"), (3599, "59 min"), (3600, "1 h"), (7140, "1 h 59 min"),
     (10800, "3 h"), (183600, "2 d 3 h"), (-10800, "3 h")],
)  # fmt: skip
def test_duration(seconds: int, text: str) -> None:
    assert duration(seconds) == text


def test_iso_utc() -> None:
    assert iso_utc(1700000000) == "2023-11-14T22:13:20Z"
    assert iso_utc(-(2**63)).endswith("(out of calendar range)")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_a_diagnosis_never_an_exception(text: str) -> None:
    d = diagnose(text, SECRET, now=CTIME)
    assert d.verdict == "invalid" and d.errors


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=300))
def test_any_body_behind_the_version_gets_a_diagnosis(body: bytes) -> None:
    d = diagnose("04" + base64.b64encode(body).decode(), SECRET, now=CTIME)
    assert d.verdict == "invalid"
