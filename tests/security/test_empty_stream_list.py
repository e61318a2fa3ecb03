"""An empty stream list is never minted: ZEGO reads ``"stream_id_list": []`` as "any stream".

ZEGO's generator README: "stream_id_list为空, 则不限制" (empty: no restriction). A publish token
with an empty list may publish any stream ID in its room, other users' included, so every way a
caller or a hook could ask for one is tried here over a real server process: a JSON body, the
query string, a JWT whose stream claim is empty, an API key granted no streams, and a hook that
answers ``Allow(stream_ids=[])``. Each is a 4xx with a code, never a token. A grant of "no
streams" means "no publishing"; asking for "any stream" is only possible where nothing
restricts stream IDs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider
from tests.server.conftest import API_KEY, APP_ID, SECRET, RunningServer, bearer, sha256_hex
from zego_token import decode_token04

StartServer = Callable[..., RunningServer]

NO_STREAMS_KEY = "key-granted-no-streams-0123456789abcdef"
ALICE_STREAMS_KEY = "key-granted-alice-streams-0123456789abcdef"

HOOK = """
from zego_token.server.hooks import Allow


def check(ctx):
    # The test names the verdict in a header; the hook answers it as a custom rule would.
    if ctx.headers.get("x-verdict") == "empty":
        return Allow(stream_ids=[])
    if ctx.headers.get("x-verdict") == "viewer":
        return Allow(publish=False, stream_ids=[])
    return True
"""


@pytest.fixture(scope="module")
def hook_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hooks")
    (directory / "stream_rules.py").write_text(HOOK, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def templated(start_module_server: StartServer, hook_dir: Path) -> RunningServer:
    """The issue's server: stream IDs follow a template; a key may publish in ``match-*``."""
    config = f"""
[[auth.api_keys]]
name = "matchmaker"
sha256 = "{sha256_hex(API_KEY)}"
room_patterns = ["match-*"]
publish = true

[policy]
stream_id_template = "{{room_id}}@{{user_id}}@*"

[hook]
function = "stream_rules:check"
"""
    return start_module_server(config, env={"PYTHONPATH": str(hook_dir)})


@pytest.fixture(scope="module")
def granted(
    start_module_server: StartServer,
) -> Iterator[tuple[RunningServer, IdentityProvider]]:
    """No template: stream IDs are restricted only by what a JWT or an API key grants."""
    provider = IdentityProvider().start()
    config = f"""
[auth]
modes = ["jwt", "api_key"]

[auth.jwt]
algorithms = ["RS256"]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
jwks_url = "{provider.jwks_url}"
publish_claim = "zego_publish"
stream_ids_claim = "zego_streams"

[[auth.api_keys]]
name = "no-streams"
sha256 = "{sha256_hex(NO_STREAMS_KEY)}"
publish = true
stream_ids = []

[[auth.api_keys]]
name = "alice-streams"
sha256 = "{sha256_hex(ALICE_STREAMS_KEY)}"
publish = true
stream_ids = ["alice-*"]

[[auth.api_keys]]
name = "unrestricted"
sha256 = "{sha256_hex(API_KEY)}"
publish = true
"""
    yield start_module_server(config), provider
    provider.stop()


def post(server: RunningServer, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server}/api/token",
        content=json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )


def refusal(response: httpx.Response) -> tuple[int, str]:
    """The status and error code; fails (showing the payload) if a token came back instead."""
    body = response.json()
    if "token" in body:
        claims = decode_token04(body["token"], SECRET, app_id=APP_ID)
        pytest.fail(f"a token was minted: payload {claims.payload}")
    return response.status_code, body["error"]["code"]


def payload_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    claims = decode_token04(response.json()["token"], SECRET, app_id=APP_ID)
    payload: dict[str, Any] = json.loads(claims.payload)
    return payload


# -- the issue's request and its variants, against the templated server -----------------------


def test_the_issues_request_is_refused_not_an_any_stream_token(templated: RunningServer) -> None:
    body = {"user_id": "bob", "room_id": "match-1", "publish": True, "stream_ids": []}
    assert refusal(post(templated, body, **bearer())) == (400, "empty_stream_list")


def test_an_empty_list_in_a_kit_token_request_is_refused(templated: RunningServer) -> None:
    response = httpx.post(
        f"{templated}/api/kit-token",
        json={"user_id": "bob", "room_id": "match-1", "publish": True, "stream_ids": []},
        headers=bearer(),
        timeout=10,
    )
    assert refusal(response) == (400, "empty_stream_list")


def test_an_empty_list_without_publish_is_refused_too(templated: RunningServer) -> None:
    body = {"user_id": "bob", "room_id": "match-1", "stream_ids": []}
    assert refusal(post(templated, body, **bearer())) == (400, "empty_stream_list")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The query string has no way to say "[]": an empty streamID is a malformed stream ID.
        ("&streamID=", (400, "invalid_parameter")),
        # Publishing without naming streams while a template restricts them.
        ("", (403, "stream_id_not_allowed")),
    ],
)
def test_the_query_string_cannot_ask_for_any_stream(
    templated: RunningServer, query: str, expected: tuple[int, str]
) -> None:
    response = httpx.get(
        f"{templated}/api/token?userID=bob&roomID=match-1&publish=1{query}",
        headers=bearer(),
        timeout=10,
    )
    assert refusal(response) == expected


def test_naming_ones_own_stream_is_served_with_that_stream_only(templated: RunningServer) -> None:
    body = {
        "user_id": "bob",
        "room_id": "match-1",
        "publish": True,
        "stream_ids": ["match-1@bob@cam"],
    }
    payload = payload_of(post(templated, body, **bearer()))
    assert payload["privilege"] == {"1": 1, "2": 1}
    assert payload["stream_id_list"] == ["match-1@bob@cam"]


@pytest.mark.parametrize("verdict", ["empty", "viewer"])
def test_a_hook_answering_an_empty_list_is_refused(templated: RunningServer, verdict: str) -> None:
    body = {
        "user_id": "bob",
        "room_id": "match-1",
        "publish": True,
        "stream_ids": ["match-1@bob@cam"],
    }
    status, code = refusal(post(templated, body, **bearer(), **{"X-Verdict": verdict}))
    assert (status, code) == (403, "hook_empty_stream_list")
    # The server writes the line after it answers: wait for it (a loaded machine is slow).
    deadline = time.monotonic() + 10
    while not any(
        r.get("level") == "error" and "empty stream list" in str(r.get("msg"))
        for r in templated.records()
    ):
        assert time.monotonic() < deadline, templated.output()
        time.sleep(0.05)


# -- grants: a JWT claim or an API key granting no streams means "no publishing" -----------------


def jwt_headers(provider: IdentityProvider, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {provider.rs256(provider.claims('bob', **claims))}"}


@pytest.mark.parametrize("streams", [None, [], ["bob-cam"]])
def test_a_jwt_whose_stream_claim_is_empty_cannot_publish(
    granted: tuple[RunningServer, IdentityProvider], streams: list[str] | None
) -> None:
    server, provider = granted
    body: dict[str, Any] = {"user_id": "bob", "room_id": "r1", "publish": True}
    if streams is not None:
        body["stream_ids"] = streams
    headers = jwt_headers(provider, zego_publish=True, zego_streams=[])
    status, code = refusal(post(server, body, **headers))
    assert status in (400, 403)
    assert code == ("empty_stream_list" if streams == [] else "stream_id_not_allowed")


def test_a_jwt_granting_streams_needs_them_named(
    granted: tuple[RunningServer, IdentityProvider],
) -> None:
    server, provider = granted
    headers = jwt_headers(provider, zego_publish=True, zego_streams=["bob-*"])
    body = {"user_id": "bob", "room_id": "r1", "publish": True, "stream_ids": []}
    assert refusal(post(server, body, **headers)) == (400, "empty_stream_list")
    body["stream_ids"] = ["bob-cam"]
    assert payload_of(post(server, body, **headers))["stream_id_list"] == ["bob-cam"]


@pytest.mark.parametrize("streams", [None, [], ["bob-cam"]])
def test_an_api_key_granted_no_streams_cannot_publish(
    granted: tuple[RunningServer, IdentityProvider], streams: list[str] | None
) -> None:
    server, _ = granted
    body: dict[str, Any] = {"user_id": "bob", "room_id": "r1", "publish": True}
    if streams is not None:
        body["stream_ids"] = streams
    status, code = refusal(post(server, body, **bearer(NO_STREAMS_KEY)))
    assert code == ("empty_stream_list" if streams == [] else "stream_id_not_allowed")
    assert status == (400 if streams == [] else 403)
    # Watching is still allowed: "no streams" takes away publishing, nothing else.
    viewer = post(server, {"user_id": "bob", "room_id": "r1"}, **bearer(NO_STREAMS_KEY))
    assert payload_of(viewer)["privilege"] == {"1": 1, "2": 0}


def test_an_api_key_granted_streams_mints_only_those(
    granted: tuple[RunningServer, IdentityProvider],
) -> None:
    server, _ = granted
    headers = bearer(ALICE_STREAMS_KEY)
    body: dict[str, Any] = {"user_id": "alice", "room_id": "r1", "publish": True}
    assert refusal(post(server, {**body, "stream_ids": []}, **headers)) == (
        400,
        "empty_stream_list",
    )
    assert refusal(post(server, {**body, "stream_ids": ["bob-cam"]}, **headers)) == (
        403,
        "stream_id_not_allowed",
    )
    assert payload_of(post(server, {**body, "stream_ids": ["alice-cam"]}, **headers))[
        "stream_id_list"
    ] == ["alice-cam"]


def test_where_nothing_restricts_streams_any_stream_is_null_never_empty(
    granted: tuple[RunningServer, IdentityProvider],
) -> None:
    server, _ = granted
    body: dict[str, Any] = {"user_id": "bob", "room_id": "r1", "publish": True}
    assert payload_of(post(server, body, **bearer()))["stream_id_list"] is None
    assert refusal(post(server, {**body, "stream_ids": []}, **bearer())) == (
        400,
        "empty_stream_list",
    )
