"""Every endpoint of the real server process, as a client would call it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.server.conftest import APP_ID, SECRET, RunningServer, StartServer
from zego_token import decode_token04, parse_kit_token

SECOND_APP = 987654321
SECOND_SECRET = "abcdefabcdefabcdefabcdefabcdef12"


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> RunningServer:
    config = f'[[apps]]\napp_id = {SECOND_APP}\nsecret = "{SECOND_SECRET}"\n'
    return start_module_server(config)


def schema_of(server: str, name: str) -> Any:
    document = httpx.get(f"{server}/openapi.json").json()
    return jsonschema_rs.validator_for(document["components"]["schemas"][name])


def test_the_seed_snippet_request_works_unchanged(server: RunningServer) -> None:
    # fetch(`${yourServerUrl}?userID=${userID}&expired_ts=86400`, { method: "GET" })
    response = httpx.get(f"{server}/api/token?userID=alice&expired_ts=86400")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"token", "expire"}
    claims = decode_token04(body["token"], SECRET, app_id=APP_ID, user_id="alice")
    assert claims.expire - claims.ctime == 86400
    assert body["expire"] == claims.expire
    assert abs(claims.ctime - time.time()) < 60
    assert claims.mode == "gcm"
    assert claims.payload == ""  # no roomID: a plain token, as in ZEGO's guide
    schema_of(server, "TokenResponse").validate(body)


def test_default_ttl_is_3600(server: RunningServer) -> None:
    body = httpx.get(f"{server}/api/token", params={"userID": "bob"}).json()
    claims = decode_token04(body["token"], SECRET)
    assert claims.expire - claims.ctime == 3600


def test_room_id_makes_a_strict_token_with_privileges(server: RunningServer) -> None:
    response = httpx.get(
        f"{server}/api/token",
        params=[
            ("userID", "host-1"),
            ("roomID", "room-9"),
            ("publish", "1"),
            ("streamID", "room-9_host-1_main"),
            ("streamID", "room-9_host-1_screen"),
            ("expired_ts", "600"),
        ],
    )
    assert response.status_code == 200, response.text
    claims = decode_token04(response.json()["token"], SECRET)
    assert claims.privileges is not None
    assert claims.privileges.room_id == "room-9"
    assert claims.privileges.login is True
    assert claims.privileges.publish is True
    assert claims.privileges.stream_ids == ("room-9_host-1_main", "room-9_host-1_screen")
    assert claims.expire - claims.ctime == 600


def test_login_zero_and_publish_default(server: RunningServer) -> None:
    response = httpx.get(
        f"{server}/api/token", params={"userID": "viewer", "roomID": "r", "login": "0"}
    )
    privileges = decode_token04(response.json()["token"], SECRET).privileges
    assert privileges is not None
    assert (privileges.login, privileges.publish, privileges.stream_ids) == (False, False, None)


def test_app_id_selects_the_second_app(server: RunningServer) -> None:
    response = httpx.get(f"{server}/api/token", params={"userID": "u1", "appID": SECOND_APP})
    assert response.status_code == 200
    claims = decode_token04(response.json()["token"], SECOND_SECRET, app_id=SECOND_APP)
    assert claims.user_id == "u1"


def test_post_token_with_every_field(server: RunningServer) -> None:
    response = httpx.post(
        f"{server}/api/token",
        json={
            "user_id": "carol",
            "ttl": 7200,
            "room_id": "stage",
            "login": True,
            "publish": True,
            "stream_ids": ["stage_carol"],
            "app_id": SECOND_APP,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    claims = decode_token04(body["token"], SECOND_SECRET, app_id=SECOND_APP, user_id="carol")
    assert claims.expire - claims.ctime == 7200
    assert body["expire"] == claims.expire
    assert claims.privileges is not None
    assert claims.privileges.stream_ids == ("stage_carol",)


def test_post_token_minimal_body(server: RunningServer) -> None:
    response = httpx.post(f"{server}/api/token", json={"user_id": "dave"})
    assert response.status_code == 200
    claims = decode_token04(response.json()["token"], SECRET, app_id=APP_ID)
    assert claims.expire - claims.ctime == 3600


def test_content_type_with_charset_is_json(server: RunningServer) -> None:
    response = httpx.post(
        f"{server}/api/token",
        content=b'{"user_id": "erin"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_kit_token(server: RunningServer, method: str) -> None:
    name = "Zoë Martin"
    if method == "GET":
        response = httpx.get(
            f"{server}/api/kit-token",
            params={"userID": "zoe", "roomID": "room-1", "userName": name, "expired_ts": 86400},
        )
    else:
        response = httpx.post(
            f"{server}/api/kit-token",
            json={"user_id": "zoe", "room_id": "room-1", "user_name": name, "ttl": 86400},
        )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"kitToken", "token", "expire"}
    kit = parse_kit_token(body["kitToken"])
    assert (kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (
        APP_ID,
        "zoe",
        "room-1",
        name,
    )
    assert kit.token == body["token"]
    claims = decode_token04(kit.token, SECRET, app_id=APP_ID, user_id="zoe")
    assert claims.expire - claims.ctime == 86400
    assert claims.privileges is not None and claims.privileges.room_id == "room-1"
    schema_of(server, "KitTokenResponse").validate(body)


def test_kit_token_user_name_defaults_to_the_user_id(server: RunningServer) -> None:
    body = httpx.get(f"{server}/api/kit-token", params={"userID": "u7", "roomID": "r"}).json()
    assert parse_kit_token(body["kitToken"]).user_name == "u7"


def test_healthz(server: RunningServer) -> None:
    response = httpx.get(f"{server}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz(server: RunningServer) -> None:
    response = httpx.get(f"{server}/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"auth.none": True}
    schema_of(server, "Ready").validate(body)


def test_metrics_count_tokens_latency_and_errors(server: RunningServer) -> None:
    httpx.get(f"{server}/api/token", params={"userID": "metric-user"})
    httpx.get(f"{server}/api/kit-token", params={"userID": "metric-user", "roomID": "r"})
    httpx.get(f"{server}/api/token", params={"userID": "x", "expired_ts": "999999"})
    response = httpx.get(f"{server}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert f'zego_tokens_issued_total{{app_id="{APP_ID}",kind="token",mode="gcm"}}' in text
    assert f'zego_tokens_issued_total{{app_id="{APP_ID}",kind="kit",mode="gcm"}}' in text
    assert 'zego_request_duration_seconds_bucket{le="0.0005",route="/api/token"}' in text
    assert 'zego_request_duration_seconds_count{route="/api/kit-token"}' in text
    assert 'zego_errors_total{code="ttl_out_of_range"}' in text
    assert "zego_auth_failures_total" in text  # declared even before the first failure
    assert SECRET not in text


def test_openapi_describes_every_endpoint(server: RunningServer) -> None:
    response = httpx.get(f"{server}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert set(paths["/api/token"]) == {"get", "post"}
    assert set(paths["/api/kit-token"]) == {"get", "post"}
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert set(paths[path]) == {"get"}
    assert "/demo" not in paths and "/api/debug/inspect" not in paths  # not in demo mode
    post = paths["/api/token"]["post"]["responses"]
    for status in ("200", "400", "403", "413", "415", "422", "500"):
        assert status in post, status
    # Generated from error_codes.py for this configuration: no credentials, no rate limit.
    assert "401" not in post and "429" not in post
    assert "security" not in paths["/api/token"]["get"]  # auth none: no credentials needed
    ttl = paths["/api/token"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert ttl["properties"]["ttl"]["maximum"] == 86400
    assert ttl["properties"]["app_id"]["enum"] == [APP_ID, SECOND_APP]
    assert SECRET not in response.text and SECOND_SECRET not in response.text
    # The schemas themselves are valid JSON Schema.
    for schema in document["components"]["schemas"].values():
        jsonschema_rs.validator_for(schema)


def test_error_bodies_match_the_error_schema(server: RunningServer) -> None:
    validator = schema_of(server, "Error")
    for response in (
        httpx.get(f"{server}/api/token"),
        httpx.get(f"{server}/nope"),
        httpx.delete(f"{server}/api/token"),
        httpx.post(f"{server}/api/token", content=b"x", headers={"Content-Type": "text/plain"}),
        httpx.get(f"{server}/api/token", params={"userID": "a", "expired_ts": "1"}),
    ):
        assert response.status_code >= 400
        assert response.headers["content-type"] == "application/json"
        validator.validate(response.json())


def test_http_keep_alive_serves_many_requests(server: RunningServer) -> None:
    with httpx.Client(base_url=server) as client:
        tokens = {
            client.get("/api/token", params={"userID": "same"}).json()["token"] for _ in range(50)
        }
    assert len(tokens) == 50  # a fresh nonce and IV every time
