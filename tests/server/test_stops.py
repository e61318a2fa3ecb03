"""A stop never hangs: SIGTERM to servers just started, idle, or in the middle of a SIGHUP
reload, and a second SIGINT that forces the exit.

A hang is a server still running ``HANG_AFTER`` seconds after its SIGTERM: the shutdown
timeout (``server.shutdown_timeout``), the reload's respawn pause and a margin for a loaded
machine. The default run stops a few dozen servers; ``ZEGO_TEST_LONG=1`` stops 2,000.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.server.conftest import server_env

SHUTDOWN_TIMEOUT = 3
HANG_AFTER = SHUTDOWN_TIMEOUT + 0.5 + 6.0
STOPS = 2000 if os.environ.get("ZEGO_TEST_LONG") == "1" else 24
PARALLEL = 3


class Server:
    """One ``python -m zego_token.server`` in its own process group, its output in a file."""

    def __init__(self, directory: Path, shutdown_timeout: int = SHUTDOWN_TIMEOUT) -> None:
        self.log = tempfile.NamedTemporaryFile(dir=directory, suffix=".log", delete=False)  # noqa: SIM115
        env = server_env({"ZEGO_TOKEN_SERVER_SHUTDOWN_TIMEOUT": str(shutdown_timeout)}, app=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zego_token.server", "--host", "127.0.0.1", "--port", "0"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.exited() or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from the server:\n{self.output()[-2000:]}")
            time.sleep(0.02)

    def exited(self) -> bool:
        """Whether the main process has exited, without reaping it (see ``kill_group``)."""
        if self.process.returncode is not None:
            return True
        found = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return found is not None

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)  # Popen sends nothing once the process is reaped

    def stopped_within(self, seconds: float) -> float | None:
        """Seconds until the process exited, or None (then its whole group is killed)."""
        start = time.monotonic()
        try:
            self.process.wait(seconds)
            return time.monotonic() - start
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self) -> None:
        """SIGKILL the server's process group, workers included, unless already reaped: until
        it is reaped (``wait``), the group's ID cannot belong to anyone else."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.log.close()


def fresh(server: Server, rng: random.Random) -> None:
    """SIGTERM at a random moment of start-up: before, during or after the workers spawn."""
    time.sleep(rng.uniform(0.0, 1.2))


def idle(server: Server, rng: random.Random) -> None:
    server.wait_for('"worker started"')
    time.sleep(rng.uniform(0.0, 0.3))


def reloading(server: Server, rng: random.Random) -> None:
    """SIGHUP, then SIGTERM a moment later: the stop lands somewhere in the reload."""
    server.wait_for('"worker started"')
    server.signal(signal.SIGHUP)
    time.sleep(rng.uniform(0.0, 0.8))


SCENARIOS: dict[str, Callable[[Server, random.Random], None]] = {
    "fresh": fresh,
    "idle": idle,
    "sighup_then_sigterm": reloading,
}


def stop_one(index: int, directory: Path) -> tuple[str, float | None, str]:
    rng = random.Random(index)
    name = list(SCENARIOS)[index % len(SCENARIOS)]
    server = Server(directory)
    try:
        SCENARIOS[name](server, rng)
        server.signal(signal.SIGTERM)
        took = server.stopped_within(HANG_AFTER)
        return name, took, "" if took is not None else server.output()[-3000:]
    finally:
        server.kill_group()


@pytest.mark.timeout(60 + STOPS * 2)
def test_no_stop_hangs_past_the_shutdown_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(lambda i: stop_one(i, tmp_path), range(STOPS)))
    wall = time.monotonic() - start
    hangs = [(name, output) for name, took, output in results if took is None]
    slowest = max((took for _, took, _ in results if took is not None), default=0.0)
    counts = {name: sum(1 for n, _, _ in results if n == name) for name in SCENARIOS}
    print(
        f"\nstopped {len(results)} servers {counts}: {len(hangs)} hangs, slowest stop "
        f"{slowest:.2f} s, wall time {wall:.1f} s"
    )
    assert not hangs, f"{len(hangs)} of {len(results)} stops hung; the first:\n{hangs[0][1]}"


def test_a_second_sigint_forces_the_exit(tmp_path: Path) -> None:
    """A worker that cannot stop (here: SIGSTOPped) holds the graceful stop for the whole
    shutdown timeout; a second SIGINT ends the main process and kills its workers at once."""
    server = Server(tmp_path, shutdown_timeout=60)
    try:
        server.wait_for('"worker started"')
        workers = _children(server.process.pid)
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        server.signal(signal.SIGINT)
        with pytest.raises(subprocess.TimeoutExpired):
            server.process.wait(1.5)  # the graceful stop waits for the frozen worker
        started = time.monotonic()
        server.signal(signal.SIGINT)
        assert server.process.wait(5) == 130
        assert time.monotonic() - started < 2
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers)
    finally:
        server.kill_group()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        pytest.skip("needs /proc/<pid>/task/<pid>/children (Linux)")
    return [int(p) for p in path.read_text().split()]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
