"""``zego-token serve --demo`` as a newcomer runs it: the installed console script in its own
process, asked the seed's request over a real loopback socket, and its demo page.

This file is portable (tests/portable.txt): it needs only the standard library and the package
with its ``[server]`` extra, so scripts/test-artifact runs it against the installed wheel (the
demo's static files must be in the wheel for it to pass) and scripts/test-pythons on every Python.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pytest

from tests.fixtures.processes import end_group, spawn
from zego_token import read_header

BIN = os.path.join(os.path.dirname(sys.executable), "zego-token")
START_TIMEOUT = 30.0
SEED_QUERY = "/api/token?userID=alice&expired_ts=86400"


@dataclass
class DemoServer:
    url: str
    app_id: int
    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(url: str, data: bytes | None = None) -> Reply:
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZEGO_", "PROMETHEUS_"))}
    env["PYTHONUNBUFFERED"] = "1"
    process = spawn(
        [BIN, "serve", "--demo", "--port", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    started: list[dict[str, Any]] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            if not started and '"server starting"' in line:
                started.append(json.loads(line))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(START_TIMEOUT) or not started:
            pytest.fail(f"serve --demo did not start:\n{''.join(lines)}")
        server = DemoServer(started[0]["url"], started[0]["apps"][0], process, lines)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve --demo exited with {process.returncode}:\n{''.join(lines)}")
            try:
                if fetch(f"{server.url}/healthz").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve --demo never answered /healthz:\n{''.join(lines)}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        end_group(process, timeout=15)
        reader.join(5)


def test_the_seed_request_gets_a_token_the_demo_server_can_decode(demo: DemoServer) -> None:
    before = int(time.time())
    reply = fetch(demo.url + SEED_QUERY)
    assert reply.status == 200, reply
    assert reply.headers["cache-control"] == "no-store"
    body = reply.json()
    assert set(body) == {"token", "expire"}
    assert before + 86400 <= body["expire"] <= int(time.time()) + 86400
    header = read_header(body["token"])
    assert header.mode == "gcm" and header.expire == body["expire"]

    # The demo's secret is random and never printed; the demo page decodes through the server.
    decoded = fetch(demo.url + "/api/debug/inspect", json.dumps({"token": body["token"]}).encode())
    assert decoded.status == 200, decoded
    claims = decoded.json()
    assert claims["app_id"] == demo.app_id
    assert claims["user_id"] == "alice"
    assert claims["expire"] == body["expire"]


def test_the_demo_page_and_every_file_it_loads_are_the_packaged_ones(demo: DemoServer) -> None:
    static = resources.files("zego_token.server").joinpath("static")
    page = fetch(demo.url + "/demo")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert page.body == static.joinpath("demo.html").read_bytes()

    loaded = re.findall(r'(?:src|href)="/demo/([^"]+)"', page.body.decode("utf-8"))
    assert sorted(loaded) == ["demo.css", "demo.js"]
    for name in loaded:
        reply = fetch(f"{demo.url}/demo/{name}")
        assert reply.status == 200, name
        assert reply.body == static.joinpath(name).read_bytes(), name
