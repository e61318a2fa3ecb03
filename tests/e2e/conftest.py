"""Browser fixtures: Debian's Chromium driven by Playwright, ZEGO's UIKit from npm, and static
pages on loopback origins of their own, so every call to the token server is cross-origin.

When ``CI=true`` a missing browser or UIKit package fails the run; elsewhere it skips with the
command that installs it.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

# The real token server, started by the server suite's own factories (one process per call).
from tests.server.conftest import RunningServer, StartServer, start_module_server, start_server

__all__ = ["RunningServer", "StartServer", "start_module_server", "start_server"]

E2E_DIR = Path(__file__).resolve().parent
PAGES_DIR = E2E_DIR / "pages"
UIKIT_PACKAGE = E2E_DIR / "node_modules" / "@zegocloud" / "zego-uikit-prebuilt"
# The package's only build: a UMD bundle that sets window.ZegoUIKitPrebuilt.
UIKIT_DIST = UIKIT_PACKAGE / "zego-uikit-prebuilt.js"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS_DIR = E2E_DIR.parent.parent / "artifacts"

# Without the networking flags Chromium phones home (updates, sync, field trials) at start-up.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def unavailable(reason: str) -> NoReturn:
    """Fail under CI (a missing browser is a broken set-up there), skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests are never skipped)", pytrace=False)
    pytest.skip(reason)


class _PagesHandler(SimpleHTTPRequestHandler):
    """Serves tests/e2e/pages, plus the UIKit bundle at /uikit/zego-uikit-prebuilt.js."""

    def translate_path(self, path: str) -> str:
        if urlsplit(path).path == "/uikit/zego-uikit-prebuilt.js":
            return str(UIKIT_DIST)
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class StaticOrigin:
    """A static http server on its own loopback port: an origin of its own to the browser."""

    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"


def _start_static_origin() -> StaticOrigin:
    handler = functools.partial(_PagesHandler, directory=str(PAGES_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-origin", daemon=True)
    thread.start()
    return StaticOrigin(server, thread)


@pytest.fixture(scope="package")
def uikit_dist() -> Path:
    if not UIKIT_DIST.is_file():
        unavailable(
            f"ZEGO's UIKit is not installed at {UIKIT_DIST}: run scripts/bootstrap "
            "(or `npm install` in tests/e2e)"
        )
    return UIKIT_DIST


@pytest.fixture(scope="package")
def app_origin(uikit_dist: Path) -> Iterator[StaticOrigin]:
    """The customer's web app: the origin the token server's CORS allow-list names."""
    static = _start_static_origin()
    yield static
    static.server.shutdown()
    static.server.server_close()


@pytest.fixture(scope="package")
def foreign_origin(uikit_dist: Path) -> Iterator[StaticOrigin]:
    """Some other site: same pages, a different port, so an origin the allow-list lacks."""
    static = _start_static_origin()
    yield static
    static.server.shutdown()
    static.server.server_close()


# Package scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, which would break asyncio.run() in every later test module.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        unavailable(f"Chromium is not installed at {CHROMIUM}: run scripts/bootstrap")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright's Python package is missing: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile, removed on close.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page in a fresh browser context, plus what it tried to fetch beyond loopback."""

    page: Any
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    offsite_requests: list[str] = field(default_factory=list)


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    tab = Tab(page)

    # Nothing in these tests may reach the internet: refuse it and remember that it was tried.
    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK_HOSTS:
            route.continue_()
        else:
            tab.offsite_requests.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    page.on("console", lambda message: tab.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()
