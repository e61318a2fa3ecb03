"""The Flask blueprint serves the standalone server's contract: Flask's test client and a real
``flask run`` process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import httpx
import pytest
from flask import Flask, Request, abort

from tests.embed.contract import (
    CHECK_IDS,
    CHECKS,
    Answer,
    Client,
    flask_command,
    free_port,
    httpx_client,
    running,
)
from tests.embed.sites import SECRET, issuer
from zego_token import decode_token04
from zego_token.integrations import Identity
from zego_token.integrations.flask import token_blueprint


@pytest.fixture(scope="module")
def in_process() -> Client:
    from tests.embed.flask_site import app

    client = app.test_client()

    def call(
        method: str,
        path: str,
        *,
        user: str | None = None,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Answer:
        if user is not None:
            client.set_cookie("session", user)
        else:
            client.delete_cookie("session")
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.open(path, method=method, query_string=params, data=body, headers=headers)
        return Answer(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.get_data(),
        )

    return call


@pytest.fixture(scope="module")
def flask_process() -> Iterator[Client]:
    port = free_port()
    command = flask_command(port)
    with running(command, port) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield httpx_client(client)


@pytest.mark.parametrize("check", CHECKS, ids=CHECK_IDS)
def test_flask_test_client(in_process: Client, check: Callable[[Client], None]) -> None:
    check(in_process)


@pytest.mark.parametrize("check", CHECKS, ids=CHECK_IDS)
def test_flask_run_process(flask_process: Client, check: Callable[[Client], None]) -> None:
    check(flask_process)


def test_an_async_authorize_runs_and_flasks_abort_reaches_flask() -> None:
    async def authorize(request: Request) -> Identity | None:
        if request.headers.get("X-Banned"):
            abort(418)
        return Identity(user_id="carol")

    app = Flask(__name__)
    app.register_blueprint(token_blueprint(issuer, authorize=authorize), url_prefix="/z")
    client = app.test_client()
    for _ in range(3):  # the thread's loop is reused, not leaked per request
        ok = client.get("/z/token?userID=carol")
        assert ok.status_code == 200, ok.get_data()
        assert decode_token04(ok.get_json()["token"], SECRET).user_id == "carol"
    assert client.get("/z/token?userID=carol", headers={"X-Banned": "1"}).status_code == 418


def test_a_sync_hook_and_a_policy_mapping_decide_as_on_the_server() -> None:
    from zego_token.integrations import Deny, HookContext

    def hook(ctx: HookContext) -> Deny | bool:
        # Sync hooks run in a worker thread, as on the server, so they may block on a database.
        return Deny("the studio is closed") if ctx.request.room_id == "studio-9" else True

    app = Flask(__name__)
    app.register_blueprint(
        token_blueprint(
            issuer,
            authorize=lambda request: Identity(user_id="dan"),
            hook=hook,
            policy={"stream_id_template": "{room_id}_{user_id}_*"},
        ),
        url_prefix="/z",
    )
    client = app.test_client()
    denied = client.get("/z/token?userID=dan&roomID=studio-9")
    assert denied.status_code == 403
    assert denied.get_json()["error"] == {"code": "hook_denied", "message": "the studio is closed"}
    ok = client.get("/z/token?userID=dan&roomID=studio-1&publish=1&streamID=studio-1_dan_cam")
    assert ok.status_code == 200, ok.get_data()
    claims = decode_token04(ok.get_json()["token"], SECRET, user_id="dan")
    assert claims.privileges is not None and claims.privileges.stream_ids == ("studio-1_dan_cam",)
    other = client.get("/z/token?userID=dan&roomID=studio-1&publish=1&streamID=studio-1_eve_cam")
    assert other.status_code == 403
    assert other.get_json()["error"]["code"] == "stream_id_not_allowed"


def test_a_slow_hook_keeps_its_thread_and_the_client_beyond_its_share_gets_503() -> None:
    """A timed-out sync hook runs on: with ``hook_per_client=1`` the same user's next request
    is refused at once with 503 ``hook_busy`` instead of queueing behind it."""
    release = threading.Event()

    def slow(ctx: object) -> bool:
        release.wait(10)
        return True

    app = Flask(__name__)
    app.register_blueprint(
        token_blueprint(
            issuer,
            authorize=lambda request: Identity(user_id="alice"),
            hook=slow,
            hook_timeout=0.2,
            hook_per_client=1,
        ),
        url_prefix="/z",
    )
    client = app.test_client()
    try:
        first = client.get("/z/token", query_string={"userID": "alice"})
        assert (first.status_code, first.json["error"]["code"]) == (403, "hook_error")
        second = client.get("/z/token", query_string={"userID": "alice"})
        assert (second.status_code, second.json["error"]["code"]) == (503, "hook_busy")
        assert second.headers["Retry-After"] == "1"
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the thread returns, and its slot with it
        third = client.get("/z/token", query_string={"userID": "alice"})
        if third.status_code == 200:
            break
        time.sleep(0.05)
    assert third.status_code == 200


def test_a_hook_pool_of_no_threads_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        token_blueprint(issuer, authorize=lambda request: None, hook=bool, hook_threads=0)
