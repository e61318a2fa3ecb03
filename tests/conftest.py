"""Shared fixtures: the official generators' vectors (tests/vectors, read-only), and a real
Redis server per test module for the rate-limit tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.redis_server import redis_server

ROOT = Path(__file__).resolve().parent.parent
VECTORS_DIR = ROOT / "tests" / "vectors"
SECRET = "0123456789abcdef0123456789abcdef"
# ZEGO_TEST_LONG=1: the long variants of the load, soak and schemathesis tests (scripts/test
# then also fuzzes 60 s per target). The default run keeps every kind of test, shorter.
LONG = os.environ.get("ZEGO_TEST_LONG", "") == "1"


def load_vectors(name: str) -> list[dict[str, Any]]:
    path = VECTORS_DIR / name
    if not path.is_file():
        pytest.fail(f"test vectors missing: {path} (they are part of the repository)")
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def descendants(pid: int) -> list[tuple[int, str]]:
    """The live (not zombie) processes below ``pid``: (pid, command line), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after it.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            parents.setdefault(int(ppid), []).append(int(entry.name))
    found: list[tuple[int, str]] = []
    stack = list(parents.get(pid, []))
    while stack:
        child = stack.pop()
        try:
            command = (Path("/proc") / str(child) / "cmdline").read_bytes()
        except OSError:
            continue
        found.append((child, command.replace(b"\0", b" ").decode("utf-8", "replace").strip()))
        stack.extend(parents.get(child, []))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fails the run if a process a test started outlives the session's fixtures.

    Set up before every other session fixture, so torn down after them; it runs in each
    pytest-xdist worker (the processes a worker's tests start are its descendants, and would
    be orphaned, out of anyone's sight, once the worker exits). What it finds it names, then
    ends, so that one leak does not outlive the run either.
    """
    yield
    left = descendants(os.getpid())
    if not left:
        return
    deadline = time.monotonic() + 5  # one that is exiting right now gets a moment
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = descendants(os.getpid())
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if left:
        names = "; ".join(f"pid {pid}: {command}" for pid, command in left)
        pytest.fail(f"the tests left {len(left)} process(es) running (now killed): {names}")


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
