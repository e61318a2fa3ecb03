"""zego_token.compat against the official token04.py, row by row of docs/compat.md.

Each test is one row of the table of differences (or of sameness) with ZEGO's official Python
generator; the last test holds the invariant over every input used here: ``error_code`` is 0
if and only if the token is non-empty and decodes.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from zego_token import compat, decode_token04, read_header
from zego_token.compat import (
    ERROR_CODE_APP_ID_INVALID,
    ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID,
    ERROR_CODE_PRIVILEGE_ID_INVALID,
    ERROR_CODE_SECRET_INVALID,
    ERROR_CODE_SUCCESS,
    ERROR_CODE_USER_ID_INVALID,
    TokenInfo,
    generate_token04,
)

SECRET = "0123456789abcdef0123456789abcdef"
DOC = Path(__file__).resolve().parent.parent / "docs" / "compat.md"


def call(*args: Any) -> TokenInfo:
    return generate_token04(*args)


def refused(info: TokenInfo, code: int) -> None:
    assert (info.token, info.error_code) == ("", code), info
    assert info.error_message and SECRET not in info.error_message


def minted(info: TokenInfo) -> Any:
    assert (info.error_code, info.error_message) == (ERROR_CODE_SUCCESS, "success"), info
    return decode_token04(info.token, SECRET)


# -- rows that behave as the official module ----------------------------------------------------


def test_row_names_the_official_module_exports() -> None:
    assert (
        ERROR_CODE_SUCCESS,
        ERROR_CODE_APP_ID_INVALID,
        ERROR_CODE_USER_ID_INVALID,
        ERROR_CODE_SECRET_INVALID,
        ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID,
    ) == (0, 1, 3, 5, 6)
    assert callable(compat.generate_token04) and compat.TokenInfo is TokenInfo


def test_row_success_is_code_0_with_message_success() -> None:
    claims = minted(call(1234567890, "alice", SECRET, 3600, '{"demoPayload": ""}'))
    assert (claims.app_id, claims.user_id, claims.payload) == (
        1234567890,
        "alice",
        '{"demoPayload": ""}',
    )
    assert claims.expire - claims.ctime == 3600


def test_row_keyword_arguments_have_the_official_names() -> None:
    info = generate_token04(
        app_id=1, user_id="u", secret=SECRET, effective_time_in_seconds=60, payload=""
    )
    minted(info)


def test_row_token_info_takes_and_exposes_the_official_fields() -> None:
    info = TokenInfo("t", 0, "success")
    assert (info.token, info.error_code, info.error_message) == ("t", 0, "success")
    info.error_code = 5  # the official class allows assignment; so does this one
    assert info == TokenInfo("t", 5, "success")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((0, "u", SECRET, 60), ERROR_CODE_APP_ID_INVALID),
        (("1", "u", SECRET, 60), ERROR_CODE_APP_ID_INVALID),
        ((True, "u", SECRET, 60), ERROR_CODE_APP_ID_INVALID),
        ((1, "", SECRET, 60), ERROR_CODE_USER_ID_INVALID),
        ((1, 7, SECRET, 60), ERROR_CODE_USER_ID_INVALID),
        ((1, "u", SECRET[:31], 60), ERROR_CODE_SECRET_INVALID),
        ((1, "u", None, 60), ERROR_CODE_SECRET_INVALID),
        ((1, "u", SECRET, 0), ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID),
        ((1, "u", SECRET, 1.5), ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID),
        ((1, "u", SECRET, True), ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID),
    ],
    ids=[
        "app-id-0",
        "app-id-str",
        "app-id-bool",
        "user-id-empty",
        "user-id-int",
        "secret-31",
        "secret-none",
        "ttl-0",
        "ttl-float",
        "ttl-bool",
    ],
)
def test_row_inputs_the_official_module_refuses_get_its_code(
    args: tuple[Any, ...], code: int
) -> None:
    refused(call(*args, ""), code)


def test_row_several_mistakes_get_the_code_of_the_first_in_official_order() -> None:
    refused(call(0, "", "short", 0, {}), ERROR_CODE_APP_ID_INVALID)
    refused(call(1, "", "short", 0, {}), ERROR_CODE_USER_ID_INVALID)
    refused(call(1, "u", "short", 0, {}), ERROR_CODE_SECRET_INVALID)
    refused(call(1, "u", SECRET, 0, {}), ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID)


# -- rows that differ ---------------------------------------------------------------------------


def test_row_payload_may_be_left_out() -> None:
    assert minted(generate_token04(1, "u", SECRET, 60)).payload == ""


def test_row_payload_none_is_a_basic_token() -> None:
    # Official: "payload": null in the claims, code 0. Here: "", code 0. Both: no privileges.
    claims = minted(call(1, "u", SECRET, 60, None))
    assert claims.payload == "" and claims.privileges is None


@pytest.mark.parametrize(
    "payload",
    [
        {"room_id": "r", "privilege": {"1": 1, "2": 0}, "stream_id_list": None},
        {},
        7,
        1.5,
        ["r"],
        b"{}",
    ],
    ids=["dict", "empty-dict", "int", "float", "list", "bytes"],
)
def test_row_payload_that_is_not_a_string_is_refused_with_code_4(payload: object) -> None:
    # Official: the value is embedded as JSON (not a string), code 0: a token ZEGO's samples
    # never make. Here: refused, naming json.dumps.
    info = call(1, "u", SECRET, 60, payload)
    refused(info, ERROR_CODE_PRIVILEGE_ID_INVALID)
    assert "json.dumps" in info.error_message


@pytest.mark.parametrize(
    "payload", ["x" * 70_000, "\ud800"], ids=["too-long-for-the-format", "lone-surrogate"]
)
def test_row_payload_the_format_cannot_hold_is_refused_not_raised(payload: str) -> None:
    # Official: struct.error / UnicodeEncodeError escape to the caller.
    refused(call(1, "u", SECRET, 60, payload), ERROR_CODE_PRIVILEGE_ID_INVALID)


@pytest.mark.parametrize("app_id", [-1, 2**32, 2**63], ids=["negative", "above-uint32", "huge"])
def test_row_app_id_outside_uint32_is_refused(app_id: int) -> None:
    # Official: code 0 and a token for an AppID no ZEGOCLOUD project can have.
    refused(call(app_id, "u", SECRET, 60, ""), ERROR_CODE_APP_ID_INVALID)


@pytest.mark.parametrize("user_id", ["x" * 65, "\ud800"], ids=["65-bytes", "lone-surrogate"])
def test_row_user_id_zego_rejects_is_refused(user_id: str) -> None:
    # Official: code 0 for 65+ bytes (ZEGO allows 64); a crash for a lone surrogate.
    refused(call(1, user_id, SECRET, 60, ""), ERROR_CODE_USER_ID_INVALID)


def test_row_non_ascii_secret_of_32_characters_is_refused() -> None:
    # Official: len() is 32, so it passes its check, then AES fails on a 33+ byte key: a crash.
    refused(call(1, "u", "é" + SECRET[1:], 60, ""), ERROR_CODE_SECRET_INVALID)


@pytest.mark.parametrize("ttl", [2**31, 2**62], ids=["above-int32", "huge"])
def test_row_lifetime_above_int32_is_refused(ttl: int) -> None:
    # Official: code 0 (or a crash once the expiry overflows int64).
    refused(call(1, "u", SECRET, ttl, ""), ERROR_CODE_EFFECTIVE_TIME_IN_SECONDS_INVALID)


def test_row_always_gcm() -> None:
    # Official: the GCM file makes GCM, the CBC file CBC. Here: GCM (mode="cbc" in the library).
    assert read_header(call(1, "u", SECRET, 60, "").token).mode == "gcm"


def test_row_nonce_and_iv_come_from_the_os_random_source() -> None:
    # Official GCM: a 12-character IV from [0-9a-z] and a nonce in 1..90000000, from `random`.
    # Here: 12 bytes of os.urandom and a signed 32-bit nonce from `secrets`.
    ivs, nonces = [], []
    for _ in range(40):
        info = call(1, "u", SECRET, 60, "")
        ivs.append(base64.b64decode(info.token[2:])[10:22])
        nonces.append(minted(info).nonce)
    assert any(not re.fullmatch(rb"[0-9a-z]{12}", iv) for iv in ivs)
    assert all(-(2**31) <= n < 2**31 for n in nonces)
    assert any(n < 1 or n > 90_000_000 for n in nonces)


def test_row_messages_say_what_to_do() -> None:
    # Official: fixed short texts ("appID invalid"); branch on the codes, which are the same.
    assert "ZEGOCLOUD console" in call(0, "u", SECRET, 60, "").error_message


# -- the invariant, over every input above -------------------------------------------------------

SWEEP: list[tuple[Any, ...]] = [
    (1, "u", SECRET, 60, ""),
    (1, "u", SECRET, 60, None),
    (1, "u", SECRET, 60, {}),
    (1, "u", SECRET, 60, 7),
    (1, "u", SECRET, 60, "x" * 70_000),
    (1, "u", SECRET, 60, "\ud800"),
    (-1, "u", SECRET, 60, ""),
    (2**32, "u", SECRET, 60, ""),
    (1, "x" * 65, SECRET, 60, ""),
    (1, "\ud800", SECRET, 60, ""),
    (1, "u", "é" + SECRET[1:], 60, ""),
    (1, "u", SECRET, 2**31, ""),
    (1, "u", SECRET, 2**31 - 1, '{"room_id":"r","privilege":{"1":1,"2":1},"stream_id_list":null}'),
    (4294967295, "x" * 64, SECRET, 1, "free text ✓"),
    (1, "u", SECRET, 60, '{"room_id":"r","privilege":{"1":1,"2":1},"stream_id_list":[]}'),
]


@pytest.mark.parametrize("args", SWEEP)
def test_error_code_0_if_and_only_if_the_token_is_non_empty_and_decodes(
    args: tuple[Any, ...],
) -> None:
    info = call(*args)
    decodes = False
    if info.token:
        try:
            decode_token04(info.token, args[2])
            decodes = True
        except Exception:
            decodes = False
    assert (info.error_code == 0) == (bool(info.token) and decodes), info
    assert (info.error_code == 0) == (info.error_message == "success")


def test_the_table_in_docs_has_a_row_for_every_difference_tested_here() -> None:
    text = DOC.read_text(encoding="utf-8")
    for words in (
        "payload=None",
        "a dict",
        "an int",
        "too long",
        "lone surrogate",
        "outside 1..4294967295",
        "more than 64 bytes",
        "non-ASCII",
        "2147483647",
        "CBC",
        "random",
        "error_message",
        "TokenInfo",
        "ERROR_CODE_PRIVILEGE_ID_INVALID",
        "empty `stream_id_list`",
    ):
        assert words in text, words
