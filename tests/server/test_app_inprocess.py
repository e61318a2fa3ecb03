"""The ASGI app called directly: the one path a client cannot reach (an unexpected exception
becomes a logged 500 without secrets), and generated hostile input never reaching it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import API_KEY, API_KEY_SHA256, APP_ID, SECRET
from zego_token import decode_token04
from zego_token.server.app import TokenServer, create_app
from zego_token.server.config import Overrides, load_settings
from zego_token.server.logs import Logger

ENV = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}


class Pipe:
    """A log destination whose text the test can read."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self.text = ""

    def read(self) -> str:
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.text += chunk.decode()
        return self.text

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    log = Pipe()
    yield log
    log.close()


def make_app(
    pipe: Pipe, env: dict[str, str] | None = None, config: str | None = None
) -> TokenServer:
    overrides = Overrides()
    if config is not None:
        path = f"/tmp/zego-token-test-{os.getpid()}.toml"
        with open(path, "w") as handle:
            handle.write(config)
        overrides.config_file = path
    settings = load_settings(overrides, {**ENV, **(env or {})})
    return create_app(settings, logger=Logger("info", "json", fd=pipe.write_fd, secrets=[SECRET]))


def call(
    app: TokenServer,
    method: str,
    path: str,
    query: bytes = b"",
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": headers or [],
        "client": ("127.0.0.1", 40000),
    }
    asyncio.run(app(scope, receive, send))
    start, response = sent
    return start["status"], dict(start["headers"]), response["body"]


def test_unexpected_exception_is_a_generic_500_and_a_scrubbed_log_line(pipe: Pipe) -> None:
    app = make_app(pipe)

    def explode(request: object) -> object:
        raise RuntimeError(f"boom with {SECRET} and Bearer {API_KEY} inside")

    app.minter.mint = explode  # type: ignore[method-assign]
    status, headers, body = call(app, "GET", "/api/token", b"userID=alice")
    assert status == 500
    assert headers[b"content-type"] == b"application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "internal_error"
    assert "boom" not in error["message"] and SECRET not in error["message"]
    app.log.flush()
    log = pipe.read()
    assert SECRET not in log and API_KEY not in log
    lines = [json.loads(line) for line in log.splitlines()]
    failure = next(line for line in lines if line["level"] == "error" and "exception" in line)
    assert failure["exception"] == "RuntimeError"
    assert "[secret]" in failure["detail"] and "[credential]" in failure["detail"]
    request = next(line for line in lines if line.get("msg") == "request")
    assert request["status"] == 500 and request["error"] == "internal_error"


def test_the_seed_request_in_process(pipe: Pipe) -> None:
    app = make_app(pipe)
    status, headers, body = call(app, "GET", "/api/token", b"userID=alice&expired_ts=86400")
    assert status == 200
    assert headers[b"cache-control"] == b"no-store"
    claims = decode_token04(json.loads(body)["token"], SECRET, user_id="alice")
    assert claims.expire - claims.ctime == 86400


QUERY_NAMES = [
    "userID",
    "expired_ts",
    "roomID",
    "publish",
    "login",
    "streamID",
    "appID",
    "userName",
    "x",
]
query_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", "0", "1", "true", "3600", "86400", "-1", "1e3", str(APP_ID), "%", "%zz"]),
    st.integers().map(str),
)
queries = st.lists(st.tuples(st.sampled_from(QUERY_NAMES), query_values), max_size=8)
raw_queries = st.binary(max_size=200)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
JSON_NAMES = [
    "user_id",
    "ttl",
    "room_id",
    "login",
    "publish",
    "stream_ids",
    "app_id",
    "user_name",
    "userID",
]
bodies = st.dictionaries(st.sampled_from(JSON_NAMES), json_values, max_size=8)


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(pairs).encode()


@pytest.fixture(scope="module")
def fuzz_app() -> Iterator[TokenServer]:
    devnull = os.open(os.devnull, os.O_WRONLY)
    settings = load_settings(Overrides(), ENV)
    yield create_app(settings, logger=Logger("info", "json", fd=devnull))
    os.close(devnull)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pairs=queries, raw=raw_queries, path=st.sampled_from(["/api/token", "/api/kit-token"]))
def test_generated_queries_never_500(
    fuzz_app: TokenServer, pairs: list[tuple[str, str]], raw: bytes, path: str
) -> None:
    for query in (_encode(pairs), raw):
        status, _, body = call(fuzz_app, "GET", path, query)
        assert status in (200, 400, 403, 422), (query, body)
        if status != 200:
            assert json.loads(body)["error"]["code"]
    fuzz_app.log.flush()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=bodies, raw=st.binary(max_size=120), path=st.sampled_from(["/api/token", "/api/kit-token"])
)
def test_generated_bodies_never_500(
    fuzz_app: TokenServer, data: dict[str, Any], raw: bytes, path: str
) -> None:
    headers = [(b"content-type", b"application/json")]
    for body in (json.dumps(data).encode(), raw):
        status, _, answer = call(fuzz_app, "POST", path, body=body, headers=headers)
        assert status in (200, 400, 403, 422), (body, answer)
    fuzz_app.log.flush()


def test_api_key_is_compared_by_hash(pipe: Pipe) -> None:
    config = f'[[auth.api_keys]]\nname = "backend"\nsha256 = "{API_KEY_SHA256}"\n'
    app = make_app(pipe, config=config)
    auth = [(b"authorization", f"Bearer {API_KEY}".encode())]
    assert call(app, "GET", "/api/token", b"userID=a", headers=auth)[0] == 200
    lowercase = [(b"authorization", f"bearer {API_KEY}".encode())]
    assert call(app, "GET", "/api/token", b"userID=a", headers=lowercase)[0] == 200
    for wrong in (API_KEY[:-1], API_KEY + "x", API_KEY_SHA256, ""):
        headers = [(b"authorization", f"Bearer {wrong}".encode())]
        assert call(app, "GET", "/api/token", b"userID=a", headers=headers)[0] == 401
