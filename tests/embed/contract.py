"""The contract every embedded endpoint serves, checked the same way through each framework's
own test client and through a real process: the standalone server's answers, byte for byte in
shape (``{"token", "expire"}``, ``{"error": {"code", "message"}}``, ``Cache-Control: no-store``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest

from tests.embed.sites import APP_ID, MOUNT, SECRET
from tests.fixtures.processes import end_group
from zego_token import decode_token04, parse_kit_token

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 30.0


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client(Protocol):
    def __call__(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Answer: ...


def httpx_client(client: httpx.Client) -> Client:
    """A client over httpx: FastAPI's TestClient, or a real socket."""

    def call(
        method: str,
        path: str,
        *,
        user: str | None = None,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Answer:
        headers = {}
        if user is not None:
            headers["cookie"] = f"session={user}"
        if content_type is not None:
            headers["content-type"] = content_type
        response = client.request(method, path, params=params, content=body, headers=headers)
        return Answer(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.content,
        )

    return call


def as_json(data: object) -> bytes:
    return json.dumps(data).encode()


# -- the checks ---------------------------------------------------------------------------------


def assert_error(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"
    data = answer.json()
    assert set(data) == {"error"}
    assert set(data["error"]) == {"code", "message"}
    assert data["error"]["code"] == code
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]
    assert SECRET not in answer.body.decode()


def check_seed_request_decodes_to_the_signed_in_user(call: Client) -> None:
    answer = call("GET", f"{MOUNT}/token?userID=alice&expired_ts=86400", user="alice")
    assert answer.status == 200, answer.body
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("application/json")
    data = answer.json()
    assert set(data) == {"token", "expire"}
    claims = decode_token04(data["token"], SECRET, app_id=APP_ID, user_id="alice")
    assert claims.expire - claims.ctime == 86400
    assert claims.expire == data["expire"]
    assert claims.payload == ""


def check_post_json_issues_a_room_token(call: Client) -> None:
    body = as_json({"user_id": "alice", "room_id": "team-1", "publish": True, "ttl": 600})
    answer = call(
        "POST", f"{MOUNT}/token", user="alice", body=body, content_type="application/json"
    )
    assert answer.status == 200, answer.body
    assert answer.headers["cache-control"] == "no-store"
    claims = decode_token04(answer.json()["token"], SECRET, user_id="alice")
    assert claims.expire - claims.ctime == 600
    assert claims.privileges is not None
    assert (claims.privileges.room_id, claims.privileges.publish) == ("team-1", True)


def check_another_user_id_is_403(call: Client) -> None:
    answer = call("GET", f"{MOUNT}/token", user="alice", params={"userID": "mallory"})
    assert_error(answer, 403, "user_id_not_allowed")


def check_not_signed_in_is_401(call: Client) -> None:
    assert_error(
        call("GET", f"{MOUNT}/token", params={"userID": "alice"}), 401, "missing_credentials"
    )
    stranger = call("GET", f"{MOUNT}/token", user="eve", params={"userID": "eve"})
    assert_error(stranger, 401, "missing_credentials")


def check_room_outside_the_grants_is_403(call: Client) -> None:
    answer = call(
        "GET", f"{MOUNT}/token", user="bob", params={"userID": "bob", "roomID": "other-1"}
    )
    assert_error(answer, 403, "room_not_allowed")
    assert (
        call(
            "GET", f"{MOUNT}/token", user="bob", params={"userID": "bob", "roomID": "team-2"}
        ).status
        == 200
    )


def check_publish_without_the_grant_is_403(call: Client) -> None:
    params = {"userID": "bob", "roomID": "team-1", "publish": "1"}
    assert_error(
        call("GET", f"{MOUNT}/token", user="bob", params=params), 403, "publish_not_allowed"
    )
    params["publish"] = "0"
    assert call("GET", f"{MOUNT}/token", user="bob", params=params).status == 200


def check_ttl_over_the_issuers_maximum_is_422(call: Client) -> None:
    answer = call(
        "GET", f"{MOUNT}/token", user="alice", params={"userID": "alice", "expired_ts": "86401"}
    )
    assert_error(answer, 422, "ttl_out_of_range")
    assert "86400" in answer.json()["error"]["message"]


def check_kit_tokens(call: Client) -> None:
    params = {"userID": "alice", "roomID": "team-7", "userName": "Alice"}
    answer = call("GET", f"{MOUNT}/kit-token", user="alice", params=params)
    assert answer.status == 200, answer.body
    assert answer.headers["cache-control"] == "no-store"
    data = answer.json()
    assert set(data) == {"kitToken", "token", "expire"}
    kit = parse_kit_token(data["kitToken"])
    assert (kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (
        APP_ID,
        "alice",
        "team-7",
        "Alice",
    )
    assert kit.token == data["token"]
    claims = decode_token04(kit.token, SECRET, user_id="alice")
    assert claims.privileges is not None and claims.privileges.room_id == "team-7"
    body = as_json({"user_id": "alice", "room_id": "team-7"})
    posted = call(
        "POST", f"{MOUNT}/kit-token", user="alice", body=body, content_type="application/json"
    )
    assert posted.status == 200, posted.body
    assert parse_kit_token(posted.json()["kitToken"]).user_name == "alice"
    missing = call("GET", f"{MOUNT}/kit-token", user="alice", params={"userID": "alice"})
    assert_error(missing, 400, "missing_parameter")


def check_bad_input_gets_the_servers_codes(call: Client) -> None:
    assert_error(call("GET", f"{MOUNT}/token", user="alice"), 400, "missing_parameter")
    assert_error(
        call(
            "GET", f"{MOUNT}/token", user="alice", params={"userID": "alice", "expired_ts": "soon"}
        ),
        400,
        "invalid_parameter",
    )
    # A cross-site form post (the CSRF vector) is refused before anything else.
    form = call(
        "POST",
        f"{MOUNT}/token",
        user="alice",
        body=b"user_id=alice",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(form, 415, "unsupported_media_type")
    text = call(
        "POST",
        f"{MOUNT}/token",
        user="alice",
        body=b'{"user_id":"alice"}',
        content_type="text/plain",
    )
    assert_error(text, 415, "unsupported_media_type")
    broken = call(
        "POST", f"{MOUNT}/token", user="alice", body=b"{", content_type="application/json"
    )
    assert_error(broken, 400, "invalid_json")
    huge = call(
        "POST", f"{MOUNT}/token", user="alice", body=b" " * 20000, content_type="application/json"
    )
    assert_error(huge, 413, "body_too_large")
    put = call("PUT", f"{MOUNT}/token", user="alice", body=b"{}", content_type="application/json")
    assert_error(put, 405, "method_not_allowed")
    assert put.headers["allow"] == "GET, POST"


CHECKS: list[Callable[[Client], None]] = [
    check_seed_request_decodes_to_the_signed_in_user,
    check_post_json_issues_a_room_token,
    check_another_user_id_is_403,
    check_not_signed_in_is_401,
    check_room_outside_the_grants_is_403,
    check_publish_without_the_grant_is_403,
    check_ttl_over_the_issuers_maximum_is_422,
    check_kit_tokens,
    check_bad_input_gets_the_servers_codes,
]
CHECK_IDS = [c.__name__.removeprefix("check_") for c in CHECKS]


# -- real processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    command: list[str], port: int, env: Mapping[str, str] | None = None, *, ready: str = "/"
) -> Iterator[str]:
    """Run ``command`` (a web server on 127.0.0.1:``port``) until the block ends; yields its URL
    once ``ready`` answers 200."""
    with running_process(command, port, env, ready=ready) as (url, _process):
        yield url


@contextmanager
def running_process(
    command: list[str], port: int, env: Mapping[str, str] | None = None, *, ready: str = "/"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``running``, also yielding the process (to read its memory from /proc)."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ZEGO_")}
    child_env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": ROOT, **(env or {})})
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"{command[:4]} exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(url + ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{command[:4]} did not answer on {url}")
            time.sleep(0.1)
        yield url, process
    finally:
        end_group(process, timeout=15)
        if process.stdout:
            process.stdout.close()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def flask_command(port: int) -> list[str]:
    """The embedding Flask site under Flask's own development server on ``port``."""
    return python(
        "-m",
        "flask",
        "--app",
        "tests.embed.flask_site:app",
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-reload",
        "--no-debugger",
    )
