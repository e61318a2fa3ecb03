"""CORS over HTTP: an allowed origin, a refused one, preflights, and ``*`` only when configured."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import RunningServer, StartServer

ALLOWED = "https://app.example"
OTHER = "https://evil.example"


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> RunningServer:
    # The allow-list comes from the environment, as in a container.
    return start_module_server(
        "[cors]\nmax_age = 300\n",
        env={"ZEGO_TOKEN_CORS_ORIGINS": f"{ALLOWED},https://b.example:8443"},
    )


def test_allowed_origin_gets_the_header(server: RunningServer) -> None:
    response = httpx.get(f"{server}/api/token", params={"userID": "a"}, headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["access-control-expose-headers"] == "Retry-After"


def test_second_allowed_origin(server: RunningServer) -> None:
    origin = "https://b.example:8443"
    response = httpx.get(f"{server}/api/token", params={"userID": "a"}, headers={"Origin": origin})
    assert response.headers["access-control-allow-origin"] == origin


def test_errors_carry_cors_headers_too(server: RunningServer) -> None:
    response = httpx.get(f"{server}/api/token", headers={"Origin": ALLOWED})
    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == ALLOWED


def test_other_origin_gets_no_allow_origin(server: RunningServer) -> None:
    response = httpx.get(f"{server}/api/token", params={"userID": "a"}, headers={"Origin": OTHER})
    # The server answers (CORS is enforced by the browser) but never names the origin.
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "origin",
    ["https://app.example.evil.example", "http://app.example", "https://app.example:444", "null"],
)
def test_near_misses_are_refused(server: RunningServer, origin: str) -> None:
    response = httpx.get(f"{server}/api/token", params={"userID": "a"}, headers={"Origin": origin})
    assert "access-control-allow-origin" not in response.headers


def test_preflight_from_allowed_origin(server: RunningServer) -> None:
    response = httpx.options(
        f"{server}/api/token",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in headers and "content-type" in headers
    assert response.headers["access-control-max-age"] == "300"
    assert response.headers["vary"] == "Origin"


def test_preflight_from_other_origin_is_refused(server: RunningServer) -> None:
    response = httpx.options(
        f"{server}/api/token",
        headers={"Origin": OTHER, "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cors_origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-methods" not in response.headers


def test_preflight_to_unknown_path_is_404(server: RunningServer) -> None:
    response = httpx.options(
        f"{server}/nowhere", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 404


def test_no_cors_configured_means_no_cors_headers(start_server: StartServer) -> None:
    server = start_server()
    response = httpx.get(f"{server}/api/token", params={"userID": "a"}, headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers
    preflight = httpx.options(
        f"{server}/api/token", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 403


def test_star_only_when_configured(start_server: StartServer) -> None:
    server = start_server('[cors]\norigins = ["*"]\n')
    response = httpx.get(f"{server}/api/token", params={"userID": "a"}, headers={"Origin": OTHER})
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = httpx.options(
        f"{server}/api/kit-token", headers={"Origin": OTHER, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_credentials_when_configured(start_server: StartServer) -> None:
    server = start_server(f'[cors]\norigins = ["{ALLOWED}"]\nallow_credentials = true\n')
    response = httpx.get(f"{server}/api/token", params={"userID": "a"}, headers={"Origin": ALLOWED})
    assert response.headers["access-control-allow-credentials"] == "true"
