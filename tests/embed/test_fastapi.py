"""The FastAPI router serves the standalone server's contract: TestClient and a real uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from tests.embed.contract import CHECK_IDS, CHECKS, Client, free_port, httpx_client, python, running
from tests.embed.sites import MOUNT, SECRET, issuer
from zego_token import decode_token04
from zego_token.integrations import Allow, Grants, HookContext, Identity
from zego_token.integrations.fastapi import token_router


@pytest.fixture(scope="module")
def in_process() -> Iterator[Client]:
    from tests.embed.fastapi_site import app

    with TestClient(app, base_url="http://testserver") as client:
        yield httpx_client(client)


@pytest.fixture(scope="module")
def uvicorn_process() -> Iterator[Client]:
    port = free_port()
    command = python(
        "-m",
        "uvicorn",
        "tests.embed.fastapi_site:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    )
    with running(command, port) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield httpx_client(client)


@pytest.mark.parametrize("check", CHECKS, ids=CHECK_IDS)
def test_fastapi_test_client(in_process: Client, check: Callable[[Client], None]) -> None:
    check(in_process)


@pytest.mark.parametrize("check", CHECKS, ids=CHECK_IDS)
def test_fastapi_under_uvicorn(uvicorn_process: Client, check: Callable[[Client], None]) -> None:
    check(uvicorn_process)


def test_a_sync_authorize_works_too_and_its_http_exception_reaches_fastapi() -> None:
    def authorize(request: Request) -> Identity | None:
        if request.headers.get("x-banned"):
            raise HTTPException(status_code=418, detail="banned")
        return Identity(user_id="carol")

    app = FastAPI()
    app.include_router(token_router(issuer, authorize=authorize), prefix="/z")
    with TestClient(app) as client:
        ok = client.get("/z/token", params={"userID": "carol"})
        assert ok.status_code == 200
        assert decode_token04(ok.json()["token"], SECRET).user_id == "carol"
        assert (
            client.get(
                "/z/token", params={"userID": "carol"}, headers={"x-banned": "1"}
            ).status_code
            == 418
        )


def test_a_server_to_server_identity_may_ask_for_any_user_and_the_hook_narrows() -> None:
    seen: list[HookContext] = []

    async def hook(ctx: HookContext) -> Allow:
        seen.append(ctx)
        return Allow(ttl=120)

    app = FastAPI()
    app.include_router(
        token_router(
            issuer,
            authorize=lambda request: Identity(grants=Grants(max_ttl=3600)),
            hook=hook,
            policy={"room_patterns": ["live-*"]},
        ),
        prefix="/z",
    )
    with TestClient(app) as client:
        answer = client.get(
            "/z/token",
            params={"userID": "anyone", "roomID": "live-1"},
            headers={"authorization": "Bearer x", "x-trace": "t1"},
        )
        assert answer.status_code == 200, answer.text
        claims = decode_token04(answer.json()["token"], SECRET, user_id="anyone")
        assert claims.expire - claims.ctime == 120  # the hook narrowed 3600 to 120
        assert seen[0].identity.subject == "server"
        assert seen[0].headers["x-trace"] == "t1" and "authorization" not in seen[0].headers
        refused = client.get("/z/token", params={"userID": "anyone", "roomID": "studio"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "room_not_allowed"
        long = client.get(
            "/z/token", params={"userID": "anyone", "roomID": "live-1", "expired_ts": "7200"}
        )
        assert long.status_code == 403 and long.json()["error"]["code"] == "ttl_not_allowed"


def test_authorize_returning_something_else_is_a_logged_500_without_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    app.include_router(token_router(issuer, authorize=lambda request: "alice"), prefix="/z")  # type: ignore[arg-type,return-value]
    with TestClient(app) as client:
        answer = client.get("/z/token", params={"userID": "alice"})
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert "authorize returned str" in caplog.text


def test_the_router_lists_both_endpoints_in_fastapis_openapi() -> None:
    from tests.embed.fastapi_site import app

    paths = app.openapi()["paths"]
    assert {f"{MOUNT}/token", f"{MOUNT}/kit-token"} <= set(paths)
