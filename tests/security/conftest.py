"""The security suite runs the same real server processes as tests/server: its fixtures are
imported here rather than copied, plus a real Redis and helpers to read a worker's memory."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from tests.server.conftest import (  # noqa: F401 - fixtures, found by pytest through this import
    RunningServer,
    run_until_exit,
    start_module_server,
    start_server,
)


def worker_pids(server: RunningServer) -> list[int]:
    """The PIDs of the server's worker processes, from their "worker started" log lines."""
    return [r["pid"] for r in server.records() if r.get("msg") == "worker started"]


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of a process in KiB, from /proc: now (VmRSS) or its peak (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def raw_request(url: str, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send raw bytes to the server and return everything it answers until it closes."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        # The server may answer and close before taking everything: then read its answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response[9:12])
