"""The library never mints ``"stream_id_list": []`` and explains one it is shown.

ZEGO reads an empty stream list as "no restriction": a publish token carrying one may publish
any stream ID in its room. So every public way to put stream IDs in a token refuses an empty
sequence (``None`` means "any stream", said on purpose), and ``inspect`` describes a token that
has one (ZEGO's generators make them) as what ZEGO does with it: any stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import SECRET
from tests.test_cli import zego
from tests.test_diagnose import CTIME, claims, seal
from zego_token import (
    InvalidParameter,
    Privileges,
    TokenIssuer,
    decode_token04,
    encode_token04,
    generate_token04,
    parse_privileges,
    privilege_payload,
)
from zego_token.compat import ERROR_CODE_PRIVILEGE_ID_INVALID
from zego_token.compat import generate_token04 as compat_generate
from zego_token.diagnose import diagnose

APP_ID = 1234567890
EMPTY = {"room_id": "r1", "privilege": {"1": 1, "2": 1}, "stream_id_list": []}


def assert_explains_empty_list(error: InvalidParameter) -> None:
    message = str(error)
    assert "any stream" in message, message
    if error.parameter == "payload":  # a raw payload string: the fix is in its JSON
        assert "write null" in message, message
    else:
        assert error.parameter == "stream_ids"
        assert "pass None" in message, message


@pytest.mark.parametrize("empty", [[], (), iter(())])
@pytest.mark.parametrize("publish", [True, False])
def test_privilege_payload_refuses_an_empty_sequence(empty: Any, publish: bool) -> None:
    with pytest.raises(InvalidParameter) as caught:
        privilege_payload("r1", publish=publish, stream_ids=empty)
    assert_explains_empty_list(caught.value)


def test_privileges_refuses_an_empty_tuple_at_construction() -> None:
    with pytest.raises(InvalidParameter) as caught:
        Privileges(room_id="r1", publish=True, stream_ids=())
    assert_explains_empty_list(caught.value)
    with pytest.raises(InvalidParameter):
        Privileges(room_id="r1", publish=True, stream_ids="cam")  # type: ignore[arg-type]


CALLS: dict[str, Callable[[], object]] = {
    "TokenIssuer.token": lambda: TokenIssuer(APP_ID, SECRET).token(
        "alice", room_id="r1", publish=True, stream_ids=[]
    ),
    "TokenIssuer.kit_token": lambda: TokenIssuer(APP_ID, SECRET).kit_token(
        "alice", "r1", publish=True, stream_ids=[]
    ),
    "generate_token04 with a payload string": lambda: generate_token04(
        APP_ID, "alice", SECRET, 3600, json.dumps(EMPTY)
    ),
    "encode_token04": lambda: encode_token04(
        app_id=APP_ID,
        user_id="alice",
        secret=SECRET,
        ctime=CTIME,
        expire=CTIME + 60,
        nonce=1,
        payload=json.dumps(EMPTY),
    ),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_no_public_path_mints_an_empty_stream_list(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidParameter) as caught:
        call()
    assert_explains_empty_list(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        # The key spelled with JSON escapes, compact separators, a repeated key (parsers differ
        # on which one wins) and the list nested in whitespace: ZEGO's JSON parser reads each
        # as an empty stream list.
        '{"room_id":"r1","privilege":{"1":1,"2":1},"stream_id_list":[]}',
        '{"room_id": "r1", "privilege": {"1": 1, "2": 1}, "\\u0073tream_id_list": []}',
        '{"room_id": "r1", "privilege": {"1": 1, "2": 1}, "stream\\u005fid_list": [ ]}',
        '{"room_id": "r1", "stream_id_list": ["a"], "stream_id_list": []}',
        '{"room_id": "r1", "stream_id_list": [], "stream_id_list": ["a"]}',
    ],
)
def test_a_raw_payload_with_an_empty_list_is_refused_however_spelled(payload: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        generate_token04(APP_ID, "alice", SECRET, 3600, payload)
    assert_explains_empty_list(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        '{"demoPayload": ""}',
        "stream_id_list: [] (free text, not JSON)",
        '{"room_id": "r1", "privilege": {"1": 1, "2": 1}, "stream_id_list": null}',
        '{"room_id": "r1", "privilege": {"1": 1, "2": 1}, "stream_id_list": ["cam"]}',
        '{"note": "\\u00e9", "stream_id_list": ["cam"]}',
    ],
)
def test_other_payloads_are_minted_as_given(payload: str) -> None:
    token = generate_token04(APP_ID, "alice", SECRET, 3600, payload)
    assert decode_token04(token, SECRET).payload == payload


def test_none_is_how_any_stream_is_asked_for() -> None:
    issued = TokenIssuer(APP_ID, SECRET).token("alice", room_id="r1", publish=True)
    payload = json.loads(decode_token04(issued.token, SECRET).payload)
    assert payload["stream_id_list"] is None


def test_compat_refuses_with_the_privilege_code_instead_of_minting() -> None:
    info = compat_generate(APP_ID, "alice", SECRET, 3600, json.dumps(EMPTY))
    assert info.token == ""
    assert info.error_code == ERROR_CODE_PRIVILEGE_ID_INVALID
    assert "any stream" in info.error_message


def test_parsing_a_token_with_an_empty_list_reads_any_stream() -> None:
    assert parse_privileges(json.dumps(EMPTY)).stream_ids is None


def official_style_token(payload: dict[str, Any]) -> str:
    """A token as ZEGO's generators make it, with whatever payload they were given."""
    return seal(claims(payload=json.dumps(payload)))


def test_diagnose_warns_that_an_empty_list_is_any_stream() -> None:
    diagnosis = diagnose(official_style_token(EMPTY), SECRET, now=CTIME + 1)
    found = {f.code: f for f in diagnosis.findings}
    assert "empty_stream_list" in found, diagnosis.findings
    finding = found["empty_stream_list"]
    assert finding.severity == "warning"
    assert "any stream" in finding.message and "r1" in finding.message
    assert "stream_ids" in finding.fix
    assert diagnosis.as_dict()["privileges"]["stream_ids"] is None


def test_diagnose_is_quiet_about_a_viewer_token_with_an_empty_list() -> None:
    viewer = {**EMPTY, "privilege": {"1": 1, "2": 0}}
    diagnosis = diagnose(official_style_token(viewer), SECRET, now=CTIME + 1)
    assert "empty_stream_list" not in {f.code for f in diagnosis.findings}


def test_inspect_shows_any_stream_with_the_reason() -> None:
    run = zego(
        "inspect", "-", "--now", str(CTIME + 1), secret=SECRET, stdin=official_style_token(EMPTY)
    )
    assert "any stream (ZEGO treats an empty list as no restriction)" in run.out, run.out
    assert "[empty_stream_list]" in run.out
    assert "streams none" not in run.out


def test_generate_refuses_a_raw_payload_with_an_empty_list_in_one_line() -> None:
    run = zego(
        "generate",
        "--app-id",
        str(APP_ID),
        "--user-id",
        "alice",
        "--payload",
        json.dumps(EMPTY),
        secret=SECRET,
    )
    assert run.code == 2 and run.out == "", run
    assert len(run.err_lines) == 1 and "--payload" in run.err and "any stream" in run.err


def test_generate_cannot_be_asked_for_an_empty_list() -> None:
    # --stream "" is the only way to spell nothing: a malformed stream ID, not "any stream".
    run = zego(
        "generate",
        "--app-id",
        str(APP_ID),
        "--user-id",
        "alice",
        "--room",
        "r1",
        "--publish",
        "--stream",
        "",
        secret=SECRET,
    )
    assert run.code == 2 and run.out == "", run
