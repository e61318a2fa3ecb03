"""Every error a client can cause, over HTTP: status, error code, a message saying what to fix."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server.conftest import (
    API_KEY,
    APP_ID,
    RunningServer,
    StartServer,
    api_key_config,
    bearer,
)


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    return response.status_code, body["error"]["code"], body["error"]["message"]


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> RunningServer:
    return start_module_server("[server]\nmax_body_bytes = 1024\n[token]\nmin_ttl = 60\n")


@pytest.fixture(scope="module")
def keyed(start_module_server: StartServer) -> RunningServer:
    """API keys; one scoped to rooms team-*; a rate limit of 3 per IP per minute for POSTs."""
    scoped = (
        '[[auth.api_keys]]\nname = "scoped"\n'
        'sha256 = "' + __import__("hashlib").sha256(b"scoped-key-123").hexdigest() + '"\n'
        'room_patterns = ["team-*"]\npublish = false\n'
    )
    return start_module_server(api_key_config(scoped))


# -- 400 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code", "hint"),
    [
        ("", "missing_parameter", "userID is required"),
        ("expired_ts=3600", "missing_parameter", "userID is required"),
        ("userID=", "invalid_parameter", "non-empty"),
        ("userID=" + "a" * 65, "invalid_parameter", "at most 64"),
        ("userID=%E4%BD%A0" * 22, "invalid_parameter", "bytes"),
        ("userID=a&expired_ts=soon", "invalid_parameter", "whole number of seconds"),
        ("userID=a&expired_ts=-5", "invalid_parameter", "whole number of seconds"),
        ("userID=a&expired_ts=3600.5", "invalid_parameter", "whole number of seconds"),
        ("userID=a&userID=b", "invalid_parameter", "more than once"),
        ("userID=a&publish=yes&roomID=r", "invalid_parameter", "1 or 0"),
        ("userID=a&publish=1", "invalid_parameter", "need roomID"),
        ("userID=a&streamID=s", "invalid_parameter", "need roomID"),
        ("userID=a&roomID=" + "r" * 129, "invalid_parameter", "at most 128"),
        ("userID=a&roomID=r&streamID=", "invalid_parameter", "non-empty"),
        ("userID=a&appID=42", "unknown_app_id", "not an app this server"),
        ("userID=a&appID=abc", "invalid_parameter", "numeric AppID"),
        ("userID=%FF", "invalid_parameter", "UTF-8"),
    ],
)
def test_bad_query_is_400(server: RunningServer, query: str, code: str, hint: str) -> None:
    status, got, message = error_of(httpx.get(f"{server}/api/token?{query}"))
    assert (status, got) == (400, code)
    assert hint in message


@pytest.mark.parametrize(
    ("query", "hint"),
    [
        ("userID=a", "roomID is required"),
        ("userID=%C3%A9&roomID=r", "ASCII"),
        ("userID=a&roomID=r&userName=" + "n" * 257, "at most 256"),
    ],
)
def test_bad_kit_query_is_400(server: RunningServer, query: str, hint: str) -> None:
    status, _code, message = error_of(httpx.get(f"{server}/api/kit-token?{query}"))
    assert status == 400
    assert hint in message


@pytest.mark.parametrize(
    ("body", "code", "hint"),
    [
        (b"", "invalid_json", "empty"),
        (b"{", "invalid_json", "not valid JSON"),
        (b"[1, 2]", "invalid_json", "JSON object"),
        (b'"alice"', "invalid_json", "JSON object"),
        (b"\xff\xfe", "invalid_json", "UTF-8"),
        (b"{}", "missing_parameter", "user_id is required"),
        (b'{"userID": "a"}', "unknown_parameter", "unknown field 'userID': did you mean user_id?"),
        (b'{"user_id": 5}', "invalid_parameter", "must be a string"),
        (b'{"user_id": "a", "ttl": "3600"}', "invalid_parameter", "whole number"),
        (b'{"user_id": "a", "ttl": 3600.0}', "invalid_parameter", "whole number"),
        (b'{"user_id": "a", "ttl": true}', "invalid_parameter", "whole number"),
        (b'{"user_id": "a", "ttl": null}', "invalid_parameter", "null"),
        (b'{"user_id": "a", "publish": 1, "room_id": "r"}', "invalid_parameter", "true or false"),
        (b'{"user_id": "a", "publish": true}', "invalid_parameter", "need room_id"),
        (b'{"user_id": "a", "stream_ids": "s", "room_id": "r"}', "invalid_parameter", "list"),
        (b'{"user_id": "a", "app_id": "1"}', "invalid_parameter", "numeric AppID"),
        (b'{"user_id": "a", "app_id": 7}', "unknown_app_id", "not an app"),
    ],
)
def test_bad_json_is_400(server: RunningServer, body: bytes, code: str, hint: str) -> None:
    status, got, message = error_of(
        httpx.post(
            f"{server}/api/token", content=body, headers={"Content-Type": "application/json"}
        )
    )
    assert (status, got) == (400, code)
    assert hint in message


def test_deep_and_huge_json_never_500(start_server: StartServer) -> None:
    server = start_server("[server]\nmax_body_bytes = 1048576\n")
    for body in (b"[" * 100000 + b"]" * 100000, b'{"user_id": "a", "ttl": 1' + b"0" * 5000 + b"}"):
        status, code, _ = error_of(
            httpx.post(
                f"{server}/api/token", content=body, headers={"Content-Type": "application/json"}
            )
        )
        assert (status, code) == (400, "invalid_json")


# -- 401 --------------------------------------------------------------------------------------


def test_missing_credentials_is_401(keyed: RunningServer) -> None:
    response = httpx.get(f"{keyed}/api/token", params={"userID": "a"})
    assert error_of(response)[:2] == (401, "missing_credentials")
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_api_key_is_401(keyed: RunningServer) -> None:
    response = httpx.get(f"{keyed}/api/token", params={"userID": "a"}, headers=bearer("nope"))
    status, code, message = error_of(response)
    assert (status, code) == (401, "invalid_api_key")
    assert "nope" not in message


def test_basic_auth_is_unsupported(keyed: RunningServer) -> None:
    response = httpx.get(
        f"{keyed}/api/token", params={"userID": "a"}, headers={"Authorization": "Basic YTpi"}
    )
    assert error_of(response)[:2] == (401, "unsupported_credentials")


def test_right_api_key_is_200(keyed: RunningServer) -> None:
    response = httpx.get(f"{keyed}/api/token", params={"userID": "a"}, headers=bearer(API_KEY))
    assert response.status_code == 200
    assert "bearer" in httpx.get(f"{keyed}/openapi.json").json()["components"]["securitySchemes"]


def test_auth_failures_are_counted_by_reason(keyed: RunningServer) -> None:
    httpx.get(f"{keyed}/api/token", params={"userID": "a"}, headers=bearer("wrong"))
    text = httpx.get(f"{keyed}/metrics").text
    assert 'zego_auth_failures_total{reason="invalid_api_key"}' in text


# -- 403 --------------------------------------------------------------------------------------


def test_key_scopes_are_enforced_by_policy(keyed: RunningServer) -> None:
    scoped = bearer("scoped-key-123")
    ok = httpx.get(f"{keyed}/api/token", params={"userID": "a", "roomID": "team-1"}, headers=scoped)
    assert ok.status_code == 200, ok.text
    status, code, _ = error_of(
        httpx.get(f"{keyed}/api/token", params={"userID": "a", "roomID": "lobby"}, headers=scoped)
    )
    assert (status, code) == (403, "room_not_allowed")
    status, code, _ = error_of(
        httpx.get(
            f"{keyed}/api/token",
            params={"userID": "a", "roomID": "team-1", "publish": "1"},
            headers=scoped,
        )
    )
    assert (status, code) == (403, "publish_not_allowed")


def test_zego_id_rules_are_on_by_default(server: RunningServer) -> None:
    status, code, _ = error_of(httpx.get(f"{server}/api/token", params={"userID": "a b"}))
    assert (status, code) == (403, "user_id_rules")


# -- 404, 405 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api", "/api/token/", "/API/TOKEN", "/demo", "/x" * 300])
def test_unknown_path_is_404(server: RunningServer, path: str) -> None:
    status, code, message = error_of(httpx.get(f"{server}{path}"))
    assert (status, code) == (404, "not_found")
    assert "/openapi.json" in message


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/token", "GET, POST"),
        ("PUT", "/api/kit-token", "GET, POST"),
        ("POST", "/healthz", "GET"),
        ("HEAD", "/readyz", "GET"),
        ("POST", "/metrics", "GET"),
        ("PATCH", "/openapi.json", "GET"),
        ("OPTIONS", "/api/token", "GET, POST"),  # not a preflight: no Origin
    ],
)
def test_wrong_method_is_405_with_allow(
    server: RunningServer, method: str, path: str, allow: str
) -> None:
    response = httpx.request(method, f"{server}{path}")
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    if method != "HEAD":
        assert error_of(response)[1] == "method_not_allowed"


# -- 413, 415 ---------------------------------------------------------------------------------


def test_body_over_the_limit_is_413(server: RunningServer) -> None:
    body = b'{"user_id": "' + b"a" * 2000 + b'"}'
    response = httpx.post(
        f"{server}/api/token", content=body, headers={"Content-Type": "application/json"}
    )
    status, code, message = error_of(response)
    assert (status, code) == (413, "body_too_large")
    assert "1024 bytes" in message


def test_chunked_body_over_the_limit_is_413(server: RunningServer) -> None:
    def chunks():  # no Content-Length: the server must count while reading
        yield b'{"user_id": "'
        for _ in range(100):
            yield b"a" * 100
        yield b'"}'

    response = httpx.post(
        f"{server}/api/token", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert error_of(response)[:2] == (413, "body_too_large")


def test_huge_declared_length_is_refused_before_reading(server: RunningServer) -> None:
    # Declares 1 GB and sends nothing more: the answer must come at once, without the body.
    parts = urlsplit(server)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"body_too_large" in reply


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"],
)
def test_wrong_content_type_is_415(server: RunningServer, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{server}/api/token", content=b'{"user_id": "a"}', headers=headers)
    status, code, message = error_of(response)
    assert (status, code) == (415, "unsupported_media_type")
    assert "application/json" in message


# -- 422 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "words"),
    [(86401, "maximum is 86400 s; not clamped"), (59, "minimum is 60 s; not clamped")],
)
def test_ttl_out_of_bounds_is_422_not_clamped(server: RunningServer, ttl: int, words: str) -> None:
    status, code, message = error_of(
        httpx.get(f"{server}/api/token", params={"userID": "a", "expired_ts": ttl})
    )
    assert (status, code) == (422, "ttl_out_of_range")
    assert words in message
    status, code, message = error_of(
        httpx.post(f"{server}/api/token", json={"user_id": "a", "ttl": ttl})
    )
    assert (status, code) == (422, "ttl_out_of_range")
    assert words in message


def test_configured_max_ttl(start_server: StartServer) -> None:
    server = start_server("[token]\nmax_ttl = 7200\ndefault_ttl = 600\n")
    assert (
        httpx.get(f"{server}/api/token", params={"userID": "a", "expired_ts": 7200}).status_code
        == 200
    )
    status, _, message = error_of(
        httpx.get(f"{server}/api/token", params={"userID": "a", "expired_ts": 7201})
    )
    assert status == 422 and "maximum is 7200 s" in message


# -- 429 --------------------------------------------------------------------------------------


def test_rate_limit_is_429_with_retry_after(start_server: StartServer) -> None:
    server = start_server("[rate_limit]\nper_ip = 3\nwindow = 60\n")
    statuses = [
        httpx.get(f"{server}/api/token", params={"userID": "a"}).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    response = httpx.get(f"{server}/api/token", params={"userID": "a"})
    status, code, message = error_of(response)
    assert (status, code) == (429, "rate_limited")
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert "retry in" in message


def test_rate_limit_per_identity(start_server: StartServer) -> None:
    server = start_server(api_key_config("[rate_limit]\nper_identity = 2\n"))
    codes = [
        httpx.get(f"{server}/api/token", params={"userID": "a"}, headers=bearer()).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


# -- and the rest -----------------------------------------------------------------------------


def test_health_endpoints_ignore_query_and_body(server: RunningServer) -> None:
    assert httpx.get(f"{server}/healthz?userID=x").status_code == 200
    assert httpx.get(f"{server}/openapi.json?x=1").status_code == 200


def test_app_id_is_not_in_error_messages_for_secrets(server: RunningServer) -> None:
    # The unknown-app message must not list the configured apps or their secrets.
    message = error_of(httpx.get(f"{server}/api/token", params={"userID": "a", "appID": 1}))[2]
    assert str(APP_ID) not in message
