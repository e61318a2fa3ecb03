"""The guide's snippet in Chromium against the token endpoint embedded in a FastAPI app (real
uvicorn), with ZEGO's real UIKit composing the kit token: the page, the sign-in and the token
endpoint share the app's origin, so the session cookie is what identifies the user."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Tab
from tests.embed.contract import free_port, python, running
from tests.embed.sites import APP_ID, MOUNT, SECRET
from zego_token import decode_token04, kit_token_for_production, parse_kit_token

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(uikit_dist: object) -> Iterator[str]:
    port = free_port()
    command = python(
        "-m",
        "uvicorn",
        "tests.embed.browser_site:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    )
    with running(command, port) as url:
        yield url


def open_page(tab: Tab, site: str) -> None:
    tab.page.goto(f"{site}/uikit.html")
    tab.page.wait_for_function("typeof window.ZegoUIKitPrebuilt === 'function'")


def sign_in(tab: Tab, user: str) -> None:
    status = tab.page.evaluate(
        """async (user) => (await fetch("/login", {
             method: "POST",
             headers: {"Content-Type": "application/json"},
             body: JSON.stringify({user}),
           })).status""",
        user,
    )
    assert status == 200


def test_the_seed_snippet_gets_the_signed_in_users_token_and_the_uikit_composes_it(
    tab: Tab, site: str
) -> None:
    open_page(tab, site)
    sign_in(tab, "alice")
    started = time.time()
    result = tab.page.evaluate(
        "(args) => seedFlow(...args)", [f"{site}{MOUNT}/token", APP_ID, "team-1", "alice", "Alice"]
    )
    assert result["status"] == 200
    kit = parse_kit_token(result["kitToken"])
    assert (kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (
        APP_ID,
        "alice",
        "team-1",
        "Alice",
    )
    claims = decode_token04(kit.token, SECRET, app_id=APP_ID, user_id="alice")
    assert claims.expire - claims.ctime == 86400
    assert started - 5 <= claims.ctime <= time.time() + 5
    assert (
        kit_token_for_production(APP_ID, result["token"], "team-1", "alice", "Alice")
        == result["kitToken"]
    )
    assert tab.errors == [], tab.errors
    assert tab.offsite_requests == []


def test_the_snippet_without_a_session_is_refused_and_for_another_user_too(
    tab: Tab, site: str
) -> None:
    open_page(tab, site)
    anonymous = tab.page.evaluate(
        "(url) => tryFetch(url)", f"{site}{MOUNT}/token?userID=alice&expired_ts=86400"
    )
    assert anonymous["status"] == 401
    assert anonymous["body"]["error"]["code"] == "missing_credentials"
    sign_in(tab, "bob")
    other = tab.page.evaluate(
        "(url) => tryFetch(url)", f"{site}{MOUNT}/token?userID=alice&expired_ts=86400"
    )
    assert other["status"] == 403
    assert other["body"]["error"]["code"] == "user_id_not_allowed"
