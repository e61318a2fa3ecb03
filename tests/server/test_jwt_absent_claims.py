"""A configured grant claim that a JWT lacks grants nothing, exactly like an empty one,
over a real server process: identity providers commonly drop empty-array
claims, and "no streams" must never turn into "all streams".

Each row of the claims table in docs/auth.md is a request here: absent, null, empty and present.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider
from tests.server.conftest import StartServer
from zego_token.auth.jwt_mode import JwtAuthenticator, JwtSettings
from zego_token.pipeline.contracts import Grants, RequestContext

# Every grant claim present and granting what REQUEST asks for.
FULL_GRANT: dict[str, Any] = {
    "zego_rooms": ["team-1"],
    "zego_publish": True,
    "zego_streams": ["alice-*"],
    "zego_max_ttl": 900,
}
REQUEST = {
    "userID": "alice",
    "roomID": "team-1",
    "publish": "1",
    "streamID": "alice-cam",
    "expired_ts": "600",
}
# The refusal each claim gives when it grants nothing.
REFUSAL = {
    "zego_rooms": "room_not_allowed",
    "zego_publish": "publish_not_allowed",
    "zego_streams": "stream_id_not_allowed",
    "zego_max_ttl": "ttl_not_allowed",
}
# What "empty" is for each claim's type.
EMPTY: dict[str, Any] = {
    "zego_rooms": [],
    "zego_publish": False,
    "zego_streams": [],
}


@pytest.fixture(scope="module")
def idp() -> IdentityProvider:
    return IdentityProvider()  # HS256 only: no JWKS endpoint needed


@pytest.fixture(scope="module")
def server(
    start_module_server: StartServer,
    idp: IdentityProvider,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    secret: Path = tmp_path_factory.mktemp("jwt") / "secret"
    secret.write_bytes(idp.hmac_secret)
    yield start_module_server(
        f"""
[auth]
modes = ["jwt"]

[auth.jwt]
algorithms = ["HS256"]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
secret_file = "{secret}"
rooms_claim = "zego_rooms"
publish_claim = "zego_publish"
stream_ids_claim = "zego_streams"
max_ttl_claim = "zego_max_ttl"
"""
    )


def ask(
    server: str, idp: IdentityProvider, grants: dict[str, Any], **params: str
) -> httpx.Response:
    token = idp.hs256(idp.claims(**grants))
    query = {**REQUEST, **params}
    return httpx.get(
        f"{server}/api/token",
        params=query,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def refusal(response: httpx.Response) -> tuple[int, str]:
    code: str = response.json()["error"]["code"]
    return response.status_code, code


def test_every_claim_present_grants_the_request(server: str, idp: IdentityProvider) -> None:
    response = ask(server, idp, FULL_GRANT)
    assert response.status_code == 200, response.text
    assert response.json()["token"].startswith("04")


@pytest.mark.parametrize("claim", sorted(REFUSAL))
def test_an_absent_claim_grants_nothing(server: str, idp: IdentityProvider, claim: str) -> None:
    grants = {k: v for k, v in FULL_GRANT.items() if k != claim}
    assert refusal(ask(server, idp, grants)) == (403, REFUSAL[claim])


@pytest.mark.parametrize("claim", sorted(REFUSAL))
def test_a_null_claim_is_absent(server: str, idp: IdentityProvider, claim: str) -> None:
    # idp.claims() drops None values, so null is written into the JSON by hand.
    token = idp.hs256({**idp.claims(**FULL_GRANT), claim: None})
    response = httpx.get(
        f"{server}/api/token",
        params=REQUEST,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert refusal(response) == (403, REFUSAL[claim])


@pytest.mark.parametrize("claim", sorted(EMPTY))
def test_an_absent_claim_is_refused_exactly_like_an_empty_one(
    server: str, idp: IdentityProvider, claim: str
) -> None:
    absent = ask(server, idp, {k: v for k, v in FULL_GRANT.items() if k != claim})
    empty = ask(server, idp, {**FULL_GRANT, claim: EMPTY[claim]})
    assert refusal(absent) == refusal(empty) == (403, REFUSAL[claim])
    assert absent.json() == empty.json()


def test_without_a_streams_claim_no_stream_may_be_published(
    server: str, idp: IdentityProvider
) -> None:
    """The issue's case: the IdP dropped `zego_streams: []`; before, any stream was allowed."""
    grants = {k: v for k, v in FULL_GRANT.items() if k != "zego_streams"}
    for stream in ("alice-cam", "bob-cam", "anything"):
        assert refusal(ask(server, idp, grants, streamID=stream)) == (
            403,
            "stream_id_not_allowed",
        )
    # Not naming the streams does not get around it either.
    no_stream = {k: v for k, v in REQUEST.items() if k != "streamID"}
    token = idp.hs256(idp.claims(**grants))
    response = httpx.get(
        f"{server}/api/token",
        params=no_stream,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert refusal(response) == (403, "stream_id_not_allowed")
    # A viewer token (publish=0, no streamID) needs no stream grant.
    viewer = {**no_stream, "publish": "0"}
    response = httpx.get(
        f"{server}/api/token",
        params=viewer,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_without_a_max_ttl_claim_no_lifetime_is_granted(server: str, idp: IdentityProvider) -> None:
    """Never the server's full token.max_ttl: not for a long TTL, nor for the shortest one."""
    grants = {k: v for k, v in FULL_GRANT.items() if k != "zego_max_ttl"}
    for ttl in ("60", "600", "3600"):
        response = ask(server, idp, grants, expired_ts=ttl)
        assert refusal(response) == (403, "ttl_not_allowed")
    with_claim = ask(server, idp, FULL_GRANT, expired_ts="3600")
    assert refusal(with_claim) == (403, "ttl_not_allowed")  # 3600 > the claim's 900
    assert ask(server, idp, FULL_GRANT, expired_ts="900").status_code == 200


@pytest.mark.parametrize("claim", sorted(REFUSAL))
def test_the_identity_of_an_absent_claim_equals_that_of_an_empty_one(
    idp: IdentityProvider, tmp_path: Path, claim: str
) -> None:
    """In-process, the Grants themselves: absent == null == empty, and never None (unrestricted)."""
    secret = tmp_path / "secret"
    secret.write_bytes(idp.hmac_secret)
    auth = JwtAuthenticator(
        JwtSettings.from_mapping(
            {
                "algorithms": ["HS256"],
                "issuer": ISSUER,
                "audience": [AUDIENCE],
                "secret_file": str(secret),
                "rooms_claim": "zego_rooms",
                "publish_claim": "zego_publish",
                "stream_ids_claim": "zego_streams",
                "max_ttl_claim": "zego_max_ttl",
            }
        )
    )
    context = RequestContext(client_ip="127.0.0.1", method="GET", path="/api/token", headers={})

    def grants(claims: dict[str, Any]) -> Grants:
        identity = asyncio.run(auth.authenticate(f"Bearer {idp.hs256(claims)}", context))
        assert identity is not None
        return identity.grants

    full = idp.claims(**FULL_GRANT)
    absent = grants({k: v for k, v in full.items() if k != claim})
    null = grants({**full, claim: None})
    field = {
        "zego_rooms": "room_patterns",
        "zego_publish": "publish",
        "zego_streams": "stream_ids",
        "zego_max_ttl": "max_ttl",
    }[claim]
    nothing = {"zego_rooms": (), "zego_publish": False, "zego_streams": (), "zego_max_ttl": 0}
    assert getattr(absent, field) == getattr(null, field) == nothing[claim]
    if claim in EMPTY:
        assert grants({**full, claim: EMPTY[claim]}) == absent
