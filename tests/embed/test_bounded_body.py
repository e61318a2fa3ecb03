"""An anonymous chunked 100 MB POST costs each embedding app's real server process less than
20 MB: the adapters read the body in chunks and stop past ``max_body_bytes``, before parsing it
and before ``authorize`` is asked, and answer 413."""

from __future__ import annotations

import select
import socket
import time

import pytest

from tests.embed.contract import flask_command, free_port, python, running_process
from tests.embed.sites import MOUNT
from tests.security.conftest import rss_kib

BODY_BYTES = 100 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)
MAX_GROWTH_KIB = 20 * 1024


def _servers(port: int) -> dict[str, list[str]]:
    return {
        "fastapi": python(
            "-m",
            "uvicorn",
            "tests.embed.fastapi_site:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ),
        "flask": flask_command(port),
        "django": python(
            "-m",
            "django",
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
            "--settings",
            "tests.embed.django_site",
        ),
    }


def post_chunked(url: str, path: str, total: int) -> tuple[int | None, int]:
    """POST ``total`` bytes as a chunked JSON body, stopping when the server answers or stops
    reading; returns (the answer's status or None, the bytes sent)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        sock.settimeout(2.0)
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the server answered (or closed) without waiting for the rest
                chunk = CHUNK[: total - sent]
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # it stopped reading: what the answer says is what matters
        sock.settimeout(10.0)
        answer = b""
        try:
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    status = int(answer[9:12]) if answer.startswith(b"HTTP/1.") else None
    return status, sent


@pytest.mark.parametrize("framework", ["fastapi", "flask", "django"])
def test_a_chunked_100_mb_body_is_refused_without_being_buffered(framework: str) -> None:
    port = free_port()
    with running_process(_servers(port)[framework], port) as (url, process):
        # Warm up: the first token request imports what the endpoint needs.
        status, _ = post_chunked(url, f"{MOUNT}/token", 100)
        assert status == 400  # a small body is parsed (not JSON) before authorize is asked
        time.sleep(0.2)
        before = rss_kib(process.pid)
        status, sent = post_chunked(url, f"{MOUNT}/token", BODY_BYTES)
        time.sleep(0.5)
        growth = rss_kib(process.pid, "VmHWM") - before
        print(f"{framework}: sent {sent >> 20} MiB, answer {status}, peak growth {growth} KiB")
        if framework == "django":
            # Django reads no body without a Content-Length (it treats a chunked one as
            # empty), so the request is an empty JSON body: 400, never a buffered body.
            assert status in (400, 413), status
        else:
            assert status == 413, status
        assert growth < MAX_GROWTH_KIB, f"{framework} grew {growth} KiB for a refused body"
