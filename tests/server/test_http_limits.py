"""What docs/security.md and docs/deploy.md say about Granian, measured on a real process:
the header limits (a count of 100, and a buffer of about 408 KiB). SIGHUP: test_reload.py."""

from __future__ import annotations

import socket

import pytest

from tests.server.conftest import RunningServer, StartServer


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> RunningServer:
    return start_module_server()


def status(server: RunningServer, head: bytes) -> int:
    """The status Granian answers a raw request head with (the connection is then closed)."""
    host, port = server.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed without an answer after {data!r}"
            data += chunk
    assert data.startswith(b"HTTP/1.1 "), data[:100]
    return int(data[9:12])


def with_headers(count: int, size: int = 1, path: bytes = b"/api/token?userID=a") -> bytes:
    """A request with ``count`` header lines in all (Host and Connection among them)."""
    extra = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * size) for i in range(count - 2))
    return b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra + b"\r\n"


def test_one_hundred_headers_are_read_and_the_101st_is_431(server: RunningServer) -> None:
    assert status(server, with_headers(100)) == 200
    assert status(server, with_headers(101)) == 431
    assert status(server, with_headers(101, path=b"/healthz")) == 431  # before any routing


def test_the_header_buffer_holds_about_400_kb(server: RunningServer) -> None:
    # Granian's --http1-buffer-size is 417,792 bytes; up to it a request head is always read.
    one_big = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: %s\r\n\r\n"
    assert status(server, one_big % (b"a" * 400_000)) == 200
    assert status(server, with_headers(100, 4_000, b"/healthz")) == 200  # 100 x 4 KB
    # Between it and about 525 KB the answer depends on how the bytes arrive; beyond, 431.
    assert status(server, one_big % (b"a" * 600_000)) == 431
    assert status(server, with_headers(100, 8_000, b"/healthz")) == 431
