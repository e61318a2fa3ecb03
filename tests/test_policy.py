"""The policy step: each rule's 403 code, and what passes untouched."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zego_token.pipeline.contracts import Grants, Identity, RequestContext, TokenRequest
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.policy import PolicyDecider, PolicySettings
from zego_token.pipeline.schema import ConfigError

CONTEXT = RequestContext(client_ip="127.0.0.1", method="GET", path="/api/token", headers={})
ANYONE = Identity(method="api_key", subject="backend")


def alice(**grants: Any) -> Identity:
    return Identity(method="jwt", subject="alice", user_id="alice", grants=Grants(**grants))


def request(**values: Any) -> TokenRequest:
    data: dict[str, Any] = {"app_id": 1234567, "user_id": "alice", "ttl": 3600}
    data.update(values)
    return TokenRequest(**data)


def decide(identity: Identity, req: TokenRequest, **policy: Any) -> TokenRequest:
    decider = PolicyDecider(PolicySettings.from_mapping(policy))
    return asyncio.run(decider.decide(identity, req, CONTEXT))


def denial(identity: Identity, req: TokenRequest, **policy: Any) -> str:
    with pytest.raises(HttpError) as caught:
        decide(identity, req, **policy)
    assert caught.value.status == 403
    return caught.value.code


def test_own_user_id_passes_unchanged() -> None:
    req = request(room_id="team-1", publish=True)
    assert decide(alice(), req) is req


def test_another_user_id_is_refused() -> None:
    assert denial(alice(), request(user_id="mallory")) == "user_id_not_allowed"


def test_unbound_identity_may_mint_for_anyone() -> None:
    assert decide(ANYONE, request(user_id="bob")).user_id == "bob"


def test_zego_id_rules_are_on_by_default_and_can_be_turned_off() -> None:
    assert denial(ANYONE, request(user_id="bob smith")) == "user_id_rules"
    assert denial(ANYONE, request(room_id="room one")) == "room_id_rules"
    assert denial(ANYONE, request(room_id="r", stream_ids=("s 1",))) == "stream_id_rules"
    assert decide(ANYONE, request(user_id="bob smith"), zego_id_rules=False).user_id == "bob smith"


def test_app_ids_grant() -> None:
    assert denial(alice(app_ids=(1,)), request()) == "app_not_allowed"
    assert decide(alice(app_ids=(1234567,)), request()).app_id == 1234567


def test_rooms_granted_by_the_identity() -> None:
    who = alice(room_patterns=("team-*", "lobby"))
    assert decide(who, request(room_id="team-7")).room_id == "team-7"
    assert decide(who, request(room_id="lobby")).room_id == "lobby"
    assert denial(who, request(room_id="admin")) == "room_not_allowed"
    # a token without a room would open every room where ZEGO's room auth is off
    assert denial(who, request()) == "room_not_allowed"
    assert denial(alice(room_patterns=()), request(room_id="lobby")) == "room_not_allowed"


def test_rooms_allowed_by_the_policy() -> None:
    assert decide(ANYONE, request(room_id="live-1"), room_patterns=["live-*"]).room_id == "live-1"
    assert denial(ANYONE, request(room_id="x-1"), room_patterns=["live-*"]) == "room_not_allowed"


def test_room_patterns_are_case_sensitive_globs() -> None:
    assert denial(alice(room_patterns=("team-*",)), request(room_id="TEAM-1")) == "room_not_allowed"


def test_publish_needs_the_grant_and_is_never_downgraded() -> None:
    assert denial(alice(publish=False), request(room_id="r", publish=True)) == "publish_not_allowed"
    assert decide(alice(publish=True), request(room_id="r", publish=True)).publish is True
    assert decide(alice(publish=False), request(room_id="r")).publish is False
    # an identity with no say on publishing is only refused when the policy requires a grant
    assert decide(ANYONE, request(room_id="r", publish=True)).publish is True
    assert (
        denial(ANYONE, request(room_id="r", publish=True), publish_requires_grant=True)
        == "publish_not_allowed"
    )


def test_stream_ids_granted_by_the_identity() -> None:
    who = alice(publish=True, stream_ids=("alice-*",))
    ok = request(room_id="r", publish=True, stream_ids=("alice-cam",))
    assert decide(who, ok).stream_ids == ("alice-cam",)
    bad = request(room_id="r", publish=True, stream_ids=("alice-cam", "bob-cam"))
    assert denial(who, bad) == "stream_id_not_allowed"
    assert denial(who, request(room_id="r", publish=True)) == "stream_id_not_allowed"


def test_stream_id_template() -> None:
    template = {"stream_id_template": "{room_id}_{user_id}_*"}
    ok = request(room_id="r1", publish=True, stream_ids=("r1_alice_main",))
    assert decide(alice(), ok, **template) is ok
    bad = request(room_id="r1", publish=True, stream_ids=("r1_bob_main",))
    assert denial(alice(), bad, **template) == "stream_id_not_allowed"
    assert (
        denial(alice(), request(room_id="r1", publish=True), **template) == "stream_id_not_allowed"
    )


def test_glob_characters_in_ids_match_only_themselves() -> None:
    template = {"stream_id_template": "{room_id}_{user_id}_*", "zego_id_rules": False}
    who = Identity(method="jwt", subject="a*", user_id="a*")
    req = request(user_id="a*", room_id="r", stream_ids=("r_a*_cam",))
    assert decide(who, req, **template) is req
    sneaky = request(user_id="a*", room_id="r", stream_ids=("r_abc_cam",))
    assert denial(who, sneaky, **template) == "stream_id_not_allowed"


def test_ttl_bounds() -> None:
    assert denial(alice(max_ttl=600), request(ttl=601)) == "ttl_not_allowed"
    assert decide(alice(max_ttl=600), request(ttl=600)).ttl == 600
    assert denial(ANYONE, request(ttl=7200), max_ttl=3600) == "ttl_not_allowed"
    assert denial(ANYONE, request(ttl=30), min_ttl=300) == "ttl_not_allowed"


def test_denial_messages_say_what_to_change() -> None:
    with pytest.raises(HttpError) as caught:
        decide(alice(max_ttl=600), request(ttl=7200))
    assert "600" in caught.value.message and "7200" in caught.value.message


@pytest.mark.parametrize(
    ("policy", "key"),
    [
        ({"room_patterns": [""]}, "policy.room_patterns"),
        ({"stream_id_template": "{room}_{user_id}"}, "policy.stream_id_template"),
        ({"stream_id_template": "{room_id"}, "policy.stream_id_template"),
        ({"stream_id_template": "{user_id!r}"}, "policy.stream_id_template"),
        ({"min_ttl": 600, "max_ttl": 60}, "policy.min_ttl"),
        ({"max_ttl": -1}, "policy.max_ttl"),
        ({"zego_id_rules": "yes"}, "policy.zego_id_rules"),
        ({"rooms": ["a"]}, "policy.rooms"),
    ],
)
def test_bad_policy_settings(policy: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PolicySettings.from_mapping(policy)
    assert caught.value.key == key
