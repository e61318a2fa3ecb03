"""The embedded endpoint never mints an empty stream list (ZEGO reads it as any stream).

Through FastAPI's router under a real uvicorn process: an app's users granted no streams, or
stream globs, and a hook that answers ``Allow(stream_ids=[])``. The same pipeline serves Flask
and Django, whose adapters translate the request and nothing else.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.embed.contract import free_port, python, running
from tests.embed.sites import APP_ID, SECRET
from zego_token import decode_token04

SITE = """
from fastapi import FastAPI, Request

from zego_token import TokenIssuer
from zego_token.integrations import Allow, Grants, HookContext, Identity
from zego_token.integrations.fastapi import token_router

issuer = TokenIssuer({app_id}, "{secret}")
USERS = {{
    "alice": Grants(publish=True, stream_ids=("alice-*",)),
    "bob": Grants(publish=True, stream_ids=()),  # no streams: no publishing
    "carol": Grants(publish=True),  # streams not restricted
}}


def authorize(request: Request) -> Identity | None:
    user = request.headers.get("x-user", "")
    return Identity(user_id=user, grants=USERS[user]) if user in USERS else None


def hook(ctx: HookContext) -> object:
    return Allow(stream_ids=[]) if ctx.headers.get("x-verdict") == "empty" else True


app = FastAPI()
app.include_router(token_router(issuer, authorize=authorize, hook=hook), prefix="/z")


@app.get("/")
def home() -> dict[str, bool]:
    return {{"up": True}}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    directory: Path = tmp_path_factory.mktemp("embed-streams")
    source = SITE.format(app_id=APP_ID, secret=SECRET)
    (directory / "streams_site.py").write_text(textwrap.dedent(source), encoding="utf-8")
    port = free_port()
    command = python(
        "-m",
        "uvicorn",
        "--app-dir",
        str(directory),
        "streams_site:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    )
    with running(command, port) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def ask(client: httpx.Client, user: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post(
        "/z/token",
        content=json.dumps({"user_id": user, "room_id": "r1", **body}),
        headers={"content-type": "application/json", "x-user": user, **headers},
    )


def outcome(response: httpx.Response) -> tuple[int, str] | list[str] | None:
    """The error (status, code), or the minted token's stream list (never ``[]``)."""
    body = response.json()
    if "token" not in body:
        return response.status_code, body["error"]["code"]
    payload = json.loads(decode_token04(body["token"], SECRET, app_id=APP_ID).payload)
    streams: list[str] | None = payload["stream_id_list"]
    assert streams != [], payload
    return streams


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
def test_an_empty_list_in_the_body_is_refused_for_everyone(site: httpx.Client, user: str) -> None:
    response = ask(site, user, {"publish": True, "stream_ids": []})
    assert outcome(response) == (400, "empty_stream_list")


def test_a_grant_of_no_streams_is_no_publishing(site: httpx.Client) -> None:
    assert outcome(ask(site, "bob", {"publish": True})) == (403, "stream_id_not_allowed")
    assert outcome(ask(site, "bob", {"publish": True, "stream_ids": ["bob-cam"]})) == (
        403,
        "stream_id_not_allowed",
    )
    assert outcome(ask(site, "bob", {})) is None  # a viewer token: no stream list at all


def test_stream_globs_need_the_streams_named(site: httpx.Client) -> None:
    assert outcome(ask(site, "alice", {"publish": True})) == (403, "stream_id_not_allowed")
    assert outcome(ask(site, "alice", {"publish": True, "stream_ids": ["alice-cam"]})) == [
        "alice-cam"
    ]


def test_unrestricted_streams_are_null_never_empty(site: httpx.Client) -> None:
    assert outcome(ask(site, "carol", {"publish": True})) is None


def test_a_hook_answering_an_empty_list_is_refused(site: httpx.Client) -> None:
    body = {"publish": True, "stream_ids": ["alice-cam"]}
    response = ask(site, "alice", body, **{"x-verdict": "empty"})
    assert outcome(response) == (403, "hook_empty_stream_list")
