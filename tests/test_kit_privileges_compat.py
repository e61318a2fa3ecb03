"""Kit tokens for the UIKit, privilege payloads, and the drop-in for the official token04.py."""

from __future__ import annotations

import base64
import json

import pytest

from zego_token import (
    InvalidParameter,
    InvalidPrivilegePayload,
    KitToken,
    MalformedToken,
    Privileges,
    compat,
    decode_token04,
    generate_token04,
    kit_token_for_production,
    kit_token_for_test,
    parse_kit_token,
    parse_privileges,
    privilege_payload,
)

# --- kit tokens -----------------------------------------------------------------------------


def test_kit_token_layout(secret: str) -> None:
    token = generate_token04(42, "alice", secret, 60)
    kit = kit_token_for_production(42, token, "room1", "alice", "Zoë 李 & co")
    head, info = kit.split("#")
    assert head == token
    assert base64.b64decode(info).decode() == (
        '{"userID":"alice","roomID":"room1","userName":"Zo%C3%AB%20%E6%9D%8E%20%26%20co",'
        '"appID":42}'
    )
    assert parse_kit_token(kit) == KitToken(token, 42, "alice", "room1", "Zoë 李 & co")


def test_kit_user_name_keeps_characters_encodeuricomponent_keeps(secret: str) -> None:
    token = generate_token04(1, "u", secret, 60)
    info = kit_token_for_production(1, token, "r", "u", "a-b_c.d!e~f*g'h(i)j").split("#")[1]
    assert json.loads(base64.b64decode(info))["userName"] == "a-b_c.d!e~f*g'h(i)j"


def test_kit_token_for_test_decodes(secret: str) -> None:
    kit = parse_kit_token(kit_token_for_test(9, secret, "room", "bob", "Bob", 120))
    claims = decode_token04(kit.token, secret, app_id=9, user_id="bob")
    assert claims.expire - claims.ctime == 120
    assert (kit.room_id, kit.user_name) == ("room", "Bob")


@pytest.mark.parametrize(
    ("room_id", "user_id", "fragment"),
    [
        ("房间", "u", "room_id must be ASCII"),
        ("r", "李", "user_id must be ASCII"),
        ("", "u", "room_id"),
    ],
)
def test_kit_token_refuses_ids_the_uikit_cannot_encode(
    secret: str, room_id: str, user_id: str, fragment: str
) -> None:
    token = generate_token04(1, "u", secret, 60)
    with pytest.raises(InvalidParameter, match=fragment):
        kit_token_for_production(1, token, room_id, user_id)


def test_kit_token_refuses_non_token(secret: str) -> None:
    with pytest.raises(InvalidParameter, match="Token04"):
        kit_token_for_production(1, "hello", "r", "u")


def _info(data: object) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("04abc", "no '#'"),
        ("#" + _info({}), "no token"),
        ("04a#***", "base64"),
        ("04a#" + _info([1]), "object"),
        ("04a#" + _info({"userID": "u", "roomID": "r", "appID": "1"}), "integer appID"),
        ("04a#" + _info({"userID": "u", "roomID": "r", "appID": 1, "userName": "%FF"}), "UTF-8"),
        (None, "string"),
    ],
)
def test_parse_kit_token_refusals(text: str, fragment: str) -> None:
    with pytest.raises(MalformedToken, match=fragment):
        parse_kit_token(text)


def test_parse_kit_token_without_user_name() -> None:
    kit = parse_kit_token("04a#" + _info({"userID": "u", "roomID": "r", "appID": 3}))
    assert kit.user_name == ""


# --- privileges -----------------------------------------------------------------------------


def test_privilege_payload_text() -> None:
    assert privilege_payload("r1") == (
        '{"room_id": "r1", "privilege": {"1": 1, "2": 0}, "stream_id_list": null}'
    )
    assert privilege_payload("r1", login=False, publish=True, stream_ids=("a", "b")) == (
        '{"room_id": "r1", "privilege": {"1": 0, "2": 1}, "stream_id_list": ["a", "b"]}'
    )
    assert Privileges("r1", publish=True).to_payload() == privilege_payload("r1", publish=True)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"room_id": ""}, "room_id"),
        ({"room_id": "r" * 129}, "129 bytes; ZEGO allows at most 128"),
        ({"stream_ids": "abc"}, "not a single string"),
        ({"stream_ids": ["s" * 257]}, "257 bytes"),
        ({"stream_ids": [""]}, "non-empty"),
        ({"publish": 1}, "True or False"),
    ],
)
def test_privilege_payload_validates(kwargs: dict[str, object], fragment: str) -> None:
    args: dict[str, object] = {"room_id": "r"}
    args.update(kwargs)
    room_id = args.pop("room_id")
    with pytest.raises(InvalidParameter, match=fragment):
        privilege_payload(room_id, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ("not json", "not JSON"),
        ("[]", "object"),
        ('{"privilege": {"1": 1}}', "room_id"),
        ('{"room_id": "r"}', "privilege"),
        ('{"room_id": "r", "privilege": {"1": true}}', "0 or 1"),
        ('{"room_id": "r", "privilege": {"2": 2}}', "0 or 1"),
        ('{"room_id": "r", "privilege": {}, "stream_id_list": "s"}', "stream_id_list"),
    ],
)
def test_parse_privileges_refusals(payload: str, fragment: str) -> None:
    with pytest.raises(InvalidPrivilegePayload, match=fragment):
        parse_privileges(payload)


# --- compat ---------------------------------------------------------------------------------


def test_compat_success(secret: str) -> None:
    info = compat.generate_token04(1, "u", secret, 60, "")
    assert (info.error_code, info.error_message) == (0, "success")
    assert decode_token04(info.token, secret).user_id == "u"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((0, "u", None, 60), compat.ErrorCode.APP_ID_INVALID),
        ((1, "", None, 60), compat.ErrorCode.USER_ID_INVALID),
        ((1, "u", "short", 60), compat.ErrorCode.SECRET_INVALID),
        ((1, "u", None, 0), compat.ErrorCode.EFFECTIVE_TIME_IN_SECONDS_INVALID),
    ],
)
def test_compat_error_codes(secret: str, args: tuple[object, ...], code: int) -> None:
    app_id, user_id, given, ttl = args
    info = compat.generate_token04(app_id, user_id, given or secret, ttl, "")  # type: ignore[arg-type]
    assert info.token == "" and info.error_code == code and info.error_message
