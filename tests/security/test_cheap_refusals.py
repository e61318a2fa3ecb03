"""Refusals that cost next to nothing and leave no room for a second reading: a long unknown
parameter name is not fed to the did-you-mean search, an encoded slash in the path is 404, a raw
``#`` in the request target is 400. Over real processes: the server under Granian's ASGI
interface (its RSGI scope carries only the decoded path) and an embedding app. A raw ``#`` never
reaches the server's application: Granian's HTTP parser drops it and what follows."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.embed.contract import flask_command, free_port, python, running
from tests.embed.sites import MOUNT
from tests.security.conftest import raw_request, status_of
from tests.server.conftest import APP_ID, SECRET
from zego_token.pipeline.params import QUERY_NAMES, suggestion, unknown

LONG_NAME = "q" * 60_000


def test_a_long_unknown_name_costs_no_suggestion_search() -> None:
    assert suggestion("room_id", QUERY_NAMES["token"]) == "roomID"
    started = time.process_time()
    for _ in range(20):
        error = unknown(LONG_NAME, QUERY_NAMES["token"], "query parameter")
    spent = time.process_time() - started
    assert error.code == "unknown_parameter"
    # The search over a 60 KB name took 10-15 ms each; skipped, 20 refusals take well under 1.
    assert spent < 0.05, f"20 refusals of a 60 KB name took {spent * 1000:.0f} ms of CPU"


def _get(url: str, target: str) -> tuple[int, bytes]:
    host = url.removeprefix("http://")
    answer = raw_request(
        url, f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    )
    return status_of(answer), answer.split(b"\r\n\r\n", 1)[1]


@pytest.fixture(scope="module")
def asgi_server() -> Iterator[str]:
    port = free_port()
    command = python(
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "zego_token.server.app:app_from_env",
    )
    env = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}
    with running(command, port, env, ready="/healthz") as url:
        yield url


def test_the_server_answers_an_encoded_slash_with_404(asgi_server: str) -> None:
    assert _get(asgi_server, "/api/token?userID=alice")[0] == 200
    status, body = _get(asgi_server, "/api%2Ftoken?userID=alice")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"
    assert _get(asgi_server, "/api%2ftoken?userID=alice")[0] == 404


def test_a_long_unknown_name_is_a_quick_400_from_the_server(asgi_server: str) -> None:
    status, body = _get(asgi_server, f"/api/token?userID=alice&{LONG_NAME}=1")
    assert status == 400
    error = json.loads(body)["error"]
    assert error["code"] == "unknown_parameter"
    assert "did you mean" not in error["message"]


@pytest.fixture(scope="module")
def flask_app() -> Iterator[str]:
    port = free_port()
    command = flask_command(port)
    with running(command, port) as url:
        yield url


def test_an_embedded_endpoint_refuses_an_encoded_slash_and_a_raw_hash(flask_app: str) -> None:
    prefix = MOUNT.rsplit("/", 1)[0]  # "/api"
    status, body = _get(flask_app, f"{prefix}%2Fzego/token?userID=alice")
    assert status == 404, body
    assert json.loads(body)["error"]["code"] == "not_found"
    status, body = _get(flask_app, f"{MOUNT}/token?userID=alice#&roomID=x")
    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "invalid_request_target"
