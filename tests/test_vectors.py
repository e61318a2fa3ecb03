"""Compatibility with ZEGO's official generators, proven on tokens they made."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import load_vectors
from zego_token import decode_token04, encode_token04, parse_privileges, privilege_payload

REPRODUCIBLE = load_vectors("token04-official.json")
DECODE_ONLY = load_vectors("token04-official-decode-only.json")


def _id(vector: dict[str, Any]) -> str:
    return f"{vector['source']}-{vector['user_id']}-{vector['app_id']}"


def test_every_official_generator_is_represented() -> None:
    sources = {v["source"] for v in REPRODUCIBLE + DECODE_ONLY}
    assert sources == {
        "official-python-cbc",
        "official-python-gcm",
        "official-node-cbc",
        "official-go-cbc",
        "official-java-cbc",
        "official-php-cbc",
        "official-cpp-cbc",
    }
    assert len(REPRODUCIBLE) == 18 and len(DECODE_ONLY) == 24


@pytest.mark.parametrize("vector", REPRODUCIBLE + DECODE_ONLY, ids=_id)
def test_decodes_official_token(vector: dict[str, Any]) -> None:
    token = decode_token04(vector["token"], vector["secret"], now=vector["ctime"])
    assert token.app_id == vector["app_id"]
    assert token.user_id == vector["user_id"]
    assert token.nonce == vector["nonce"]
    assert token.ctime == vector["ctime"]
    assert token.expire == vector["expire"]
    assert token.payload == vector["payload"]
    assert token.mode == vector["mode"]
    if vector["payload"]:
        assert token.privileges == parse_privileges(vector["payload"])
    else:
        assert token.privileges is None


@pytest.mark.parametrize("vector", REPRODUCIBLE, ids=_id)
def test_encode_reproduces_official_token_byte_for_byte(vector: dict[str, Any]) -> None:
    token = encode_token04(
        app_id=vector["app_id"],
        user_id=vector["user_id"],
        secret=vector["secret"],
        ctime=vector["ctime"],
        expire=vector["expire"],
        nonce=vector["nonce"],
        payload=vector["payload"],
        mode=vector["mode"],
        iv=bytes.fromhex(vector["iv_hex"]),
    )
    assert token == vector["token"]


@pytest.mark.parametrize("vector", [v for v in REPRODUCIBLE if v["payload"]], ids=_id)
def test_privilege_payload_matches_official_text(vector: dict[str, Any]) -> None:
    parsed = parse_privileges(vector["payload"])
    rebuilt = privilege_payload(
        parsed.room_id,
        login=parsed.login,
        publish=parsed.publish,
        stream_ids=parsed.stream_ids,
    )
    assert rebuilt == vector["payload"]
