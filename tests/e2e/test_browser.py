"""ZEGO's real UIKit, in Chromium, on a second origin, against the real token server.

The customer's page fetches a token with the guide's snippet and hands it to
``ZegoUIKitPrebuilt.generateKitTokenForProduction``; the kit token the UIKit builds must carry
exactly what this library reads back. A page on an origin the allow-list lacks must be refused
by the browser itself.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.conftest import E2E_DIR, StartServer, StaticOrigin, Tab
from zego_token import InvalidParameter, decode_token04, kit_token_for_production, parse_kit_token

pytestmark = pytest.mark.browser

APP_ID = 1739272706
SECRET = "f1b5e6c3a7d94e0b8c2d4a6e8f0b1c3d"
ROOM_ID = "room-42"
USER_ID = "alice_01"
UIKIT_VERSION = json.loads((E2E_DIR / "package.json").read_text("utf-8"))["dependencies"][
    "@zegocloud/zego-uikit-prebuilt"
]


@pytest.fixture(scope="module")
def token_url(app_origin: StaticOrigin, start_module_server: StartServer) -> str:
    """The real server, whose CORS allow-list names only the customer's web app."""
    server = start_module_server(
        env={
            "ZEGO_APP_ID": str(APP_ID),
            "ZEGO_SERVER_SECRET": SECRET,
            "ZEGO_TOKEN_CORS_ORIGINS": app_origin.origin,
        }
    )
    return f"{server.url}/api/token"


def open_uikit_page(tab: Tab, origin: StaticOrigin) -> None:
    tab.page.goto(origin.url("/uikit.html"))
    tab.page.wait_for_function("typeof window.ZegoUIKitPrebuilt === 'function'")
    # The build the browser runs is the one package.json pins, not a stray copy.
    assert tab.page.evaluate("ZegoUIKitPrebuilt.getVersion()") == UIKIT_VERSION


def assert_quiet(tab: Tab) -> None:
    assert tab.errors == [], tab.errors
    assert tab.offsite_requests == [], "the page tried to reach the internet"


@pytest.mark.parametrize("user_name", ["Alice", "Zoë 李"])
def test_seed_snippet_and_uikit_production_kit_token(
    tab: Tab, app_origin: StaticOrigin, token_url: str, user_name: str
) -> None:
    open_uikit_page(tab, app_origin)
    started = time.time()

    result = tab.page.evaluate(
        "(args) => seedFlow(...args)", [token_url, APP_ID, ROOM_ID, USER_ID, user_name]
    )

    assert result["status"] == 200
    kit = parse_kit_token(result["kitToken"])
    assert kit.token == result["token"]
    assert (kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (
        APP_ID,
        USER_ID,
        ROOM_ID,
        user_name,
    )
    claims = decode_token04(kit.token, SECRET, app_id=APP_ID, user_id=USER_ID)
    assert claims.expire - claims.ctime == 86400
    assert started - 5 <= claims.ctime <= time.time() + 5
    # Our composition and the UIKit's agree byte for byte on the same token.
    ours = kit_token_for_production(APP_ID, result["token"], ROOM_ID, USER_ID, user_name)
    assert ours == result["kitToken"]
    assert_quiet(tab)


@pytest.mark.parametrize("user_name", ["Bob", "Zoë 李"])
def test_uikit_test_kit_token_is_read_by_this_library(
    tab: Tab, app_origin: StaticOrigin, user_name: str
) -> None:
    open_uikit_page(tab, app_origin)
    started = time.time()

    kit_token = tab.page.evaluate(
        "([appID, secret, roomID, userID, userName]) =>"
        " ZegoUIKitPrebuilt.generateKitTokenForTest(appID, secret, roomID, userID, userName, 3600)",
        [APP_ID, SECRET, ROOM_ID, USER_ID, user_name],
    )

    kit = parse_kit_token(kit_token)
    assert (kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (
        APP_ID,
        USER_ID,
        ROOM_ID,
        user_name,
    )
    claims = decode_token04(kit.token, SECRET, app_id=APP_ID, user_id=USER_ID)
    # The UIKit mints legacy AES-CBC tokens with no privilege payload.
    assert claims.mode == "cbc"
    assert claims.payload == ""
    assert claims.privileges is None
    assert claims.expire - claims.ctime == 3600
    assert started - 5 <= claims.ctime <= time.time() + 5
    # Same token in, same kit token out: the info part is deterministic, so compare bytes.
    assert kit_token_for_production(APP_ID, kit.token, ROOM_ID, USER_ID, user_name) == kit_token
    assert_quiet(tab)


def test_uikit_refuses_what_this_library_refuses(tab: Tab, app_origin: StaticOrigin) -> None:
    """The UIKit's btoa() throws on a non-ASCII room ID; kit.py refuses it up front for that."""
    open_uikit_page(tab, app_origin)
    outcome = tab.page.evaluate(
        """() => {
            try {
                return ZegoUIKitPrebuilt.generateKitTokenForProduction(1, "04x", "房间", "u", "n");
            } catch (error) {
                return `threw ${error.name}`;
            }
        }"""
    )
    assert outcome == "threw InvalidCharacterError"
    with pytest.raises(InvalidParameter, match="room_id must be ASCII"):
        kit_token_for_production(1, "04x", "房间", "u", "n")


def test_cors_foreign_origin_is_refused_by_the_browser(
    tab: Tab, app_origin: StaticOrigin, foreign_origin: StaticOrigin, token_url: str
) -> None:
    url = f"{token_url}?userID={USER_ID}&expired_ts=86400"

    tab.page.goto(foreign_origin.url("/uikit.html"))
    refused = tab.page.evaluate("(url) => tryFetch(url)", url)
    assert refused == {"fetched": False, "error": "TypeError: Failed to fetch"}
    # Refused for CORS, not because the server was down or the URL wrong.
    assert any(
        "has been blocked by CORS policy" in line and foreign_origin.origin in line
        for line in tab.console
    ), tab.console

    tab.page.goto(app_origin.url("/uikit.html"))
    allowed = tab.page.evaluate("(url) => tryFetch(url)", url)
    assert allowed["fetched"] is True
    assert allowed["status"] == 200
    decode_token04(allowed["body"]["token"], SECRET, app_id=APP_ID, user_id=USER_ID)
    assert_quiet(tab)


def test_cors_preflighted_post_only_from_the_allowed_origin(
    tab: Tab, app_origin: StaticOrigin, foreign_origin: StaticOrigin, token_url: str
) -> None:
    # A JSON body makes the browser send a preflight OPTIONS first.
    post = """async (url) => {
        try {
            const res = await fetch(url, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ user_id: "carol", ttl: 600 }),
            });
            return { fetched: true, status: res.status, body: await res.json() };
        } catch (error) {
            return { fetched: false, error: `${error.name}: ${error.message}` };
        }
    }"""
    tab.page.goto(foreign_origin.url("/uikit.html"))
    assert tab.page.evaluate(post, token_url)["fetched"] is False

    tab.page.goto(app_origin.url("/uikit.html"))
    allowed = tab.page.evaluate(post, token_url)
    assert allowed["status"] == 200, allowed
    claims = decode_token04(allowed["body"]["token"], SECRET, app_id=APP_ID, user_id="carol")
    assert claims.expire - claims.ctime == 600
