"""The demo page, driven by clicks as a newcomer would: `zego-token serve --demo`, open /demo,
press "Get token", read the token, the kit token and the decoded view.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS_DIR, RunningServer, StartServer, Tab
from zego_token import (
    Privileges,
    decode_token04,
    kit_token_for_production,
    parse_kit_token,
    read_header,
)

pytestmark = pytest.mark.browser

APP_ID = 1500600700
SECRET = "9c3e5a7b1d2f4068a0b2c4d6e8f01357"
NAME = "Zoë 李"
# Latin-1 only, so the screenshot renders on machines without CJK fonts.
SCREENSHOT_NAME = "Zoë Martin"


@pytest.fixture(scope="module")
def demo_server(start_module_server: StartServer) -> RunningServer:
    """Exactly the README's main command: a throwaway AppID and secret, demo page on."""
    return start_module_server(args=["--demo"], app=False)


@pytest.fixture(scope="module")
def known_secret_demo(start_module_server: StartServer) -> RunningServer:
    """The demo page switched on by configuration, with an app whose secret the test knows."""
    env = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET, "ZEGO_TOKEN_DEMO_ENABLED": "1"}
    return start_module_server(env=env)


def get_token(tab: Tab, user_id: str, user_name: str, room_id: str, *, strict: bool) -> None:
    page = tab.page
    page.fill("#user-id", user_id)
    page.fill("#user-name", user_name)
    page.fill("#room-id", room_id)
    page.set_checked("#strict", strict)
    before = page.text_content("#token")
    page.click("#get-token")
    # Done when a new token shows (every token differs: a random nonce) and the status says so.
    page.wait_for_function(
        """(before) => document.getElementById("token").textContent !== before
            && document.getElementById("status").classList.contains("ok")""",
        arg=before,
    )
    assert page.is_visible("#result")


def text(tab: Tab, selector: str) -> str:
    return str(tab.page.inner_text(selector)).strip()


def seconds_left(tab: Tab) -> int:
    match = re.search(r"\((\d+) s\)$", text(tab, "#d-countdown"))
    assert match, text(tab, "#d-countdown")
    return int(match.group(1))


def test_demo_page_by_clicks(tab: Tab, demo_server: RunningServer) -> None:
    app_id = int(re.search(r"AppID: (\d+)", demo_server.output()).group(1))  # type: ignore[union-attr]
    tab.page.goto(f"{demo_server.url}/demo")
    banner = text(tab, "#demo-banner")
    assert banner.startswith("Demo tokens are not accepted by ZEGOCLOUD.")

    get_token(tab, "alice", SCREENSHOT_NAME, "demo-room", strict=False)

    # The guide's snippet ran unchanged: user ID raw in the URL, 86400 s.
    assert text(tab, "#request-line") == "GET /api/token?userID=alice&expired_ts=86400  →  200"
    token = text(tab, "#token")
    header = read_header(token)
    assert header.mode == "gcm"
    assert abs(header.expire - 86400 - time.time()) < 30
    kit_token = text(tab, "#kit-token")
    kit = parse_kit_token(kit_token)
    assert (kit.token, kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (
        token,
        app_id,
        "alice",
        "demo-room",
        SCREENSHOT_NAME,
    )
    # Byte for byte what this library (and so the UIKit, see test_browser) composes.
    assert kit_token == kit_token_for_production(
        app_id, token, "demo-room", "alice", SCREENSHOT_NAME
    )

    assert text(tab, "#d-mode") == "gcm (AES-GCM)"
    assert text(tab, "#d-app-id") == str(app_id)
    assert text(tab, "#d-user-id") == "alice"
    assert text(tab, "#d-expire").endswith(f"({header.expire})")
    assert text(tab, "#d-privileges").startswith("none: a basic token")
    first = seconds_left(tab)
    assert 86400 - 30 < first <= 86400
    # The countdown ticks.
    tab.page.wait_for_function(
        "(first) => !document.getElementById('d-countdown').textContent.includes(`(${first} s)`)",
        arg=first,
    )
    assert seconds_left(tab) < first

    ARTIFACTS_DIR.mkdir(exist_ok=True)
    shot = ARTIFACTS_DIR / "demo.png"
    tab.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # Not one request left the machine: no CDN, no web font, no analytics.
    assert tab.offsite_requests == []
    assert tab.errors == []


def test_demo_page_tokens_decode_with_this_library(
    tab: Tab, known_secret_demo: RunningServer
) -> None:
    tab.page.goto(f"{known_secret_demo.url}/demo")

    get_token(tab, "bob-7", NAME, "room.9", strict=False)
    claims = decode_token04(text(tab, "#token"), SECRET, app_id=APP_ID, user_id="bob-7")
    assert claims.expire - claims.ctime == 86400
    assert claims.privileges is None
    kit = parse_kit_token(text(tab, "#kit-token"))
    assert (kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (
        APP_ID,
        "bob-7",
        "room.9",
        NAME,
    )

    # The strict option binds the token to the room with login and publish privileges.
    get_token(tab, "bob-7", NAME, "room.9", strict=True)
    strict = decode_token04(text(tab, "#token"), SECRET, app_id=APP_ID, user_id="bob-7")
    assert strict.privileges == Privileges(room_id="room.9", login=True, publish=True)
    assert strict.expire - strict.ctime == 86400
    assert text(tab, "#d-privileges") == "room room.9 · login yes · publish yes (any stream)"
    assert tab.offsite_requests == []
    assert tab.errors == []


def test_demo_page_explains_a_bad_user_id_before_asking(
    tab: Tab, known_secret_demo: RunningServer
) -> None:
    requests: list[str] = []
    tab.page.on("request", lambda request: requests.append(request.url))
    tab.page.goto(f"{known_secret_demo.url}/demo")
    requests.clear()

    tab.page.fill("#user-id", "alice&admin=1")
    tab.page.click("#get-token")

    tab.page.wait_for_selector("#status.error")
    assert "User ID: use letters, digits and - _ . ~ only" in text(tab, "#status")
    assert tab.page.get_attribute("#user-id", "aria-invalid") == "true"
    assert requests == []
    assert not tab.page.is_visible("#result")


def test_demo_page_is_off_without_demo_mode(start_server: StartServer) -> None:
    server = start_server(env={"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET})
    for path in ("/demo", "/demo/demo.js"):
        assert httpx.get(f"{server.url}{path}", timeout=5).status_code == 404
    inspect = httpx.post(f"{server.url}/api/debug/inspect", json={"token": "04"}, timeout=5)
    assert inspect.status_code == 404


def visible_headings(tab: Tab) -> list[str]:
    return tab.page.evaluate(
        """() => [...document.querySelectorAll("section.card > h2")]
            .filter((h) => h.offsetParent !== null).map((h) => h.textContent)"""
    )


def test_demo_page_numbers_the_visible_steps_without_a_gap(
    tab: Tab, demo_server: RunningServer
) -> None:
    # The result is hidden until the first request: the steps shown then must not skip a number.
    tab.page.goto(f"{demo_server.url}/demo")
    assert visible_headings(tab) == ["1. Who is joining", "What a real app does next"]
    get_token(tab, "alice", SCREENSHOT_NAME, "demo-room", strict=False)
    assert visible_headings(tab) == [
        "1. Who is joining",
        "2. What the server gave back",
        "What a real app does next",
    ]
