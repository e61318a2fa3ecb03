"""Fixtures that run the REAL token server: ``python -m zego_token.server`` in its own process,
on a free loopback port, talked to over HTTP.

``start_server`` (per test) and ``start_module_server`` (per module) are factories::

    def test_seed(start_server):
        url = start_server('[token]\\nmax_ttl = 7200\\n', env={"ZEGO_TOKEN_CORS_ORIGINS": "https://a.example"})
        httpx.get(f"{url}/api/token", params={"userID": "alice"})

``start_server(config=None, env=None, args=(), *, app=True, wait=True) -> RunningServer``

- ``config``: TOML text written to a temporary file and passed as ``--config`` (None: no file).
- ``env``: environment variables on top of the test's environment, from which every
  ``ZEGO_*`` variable is removed first. A value of ``None`` removes that variable.
- ``args``: extra command-line arguments (``["--workers", "2"]``, ``["--demo"]``).
- ``app``: when true (the default) and ``env`` does not set ``ZEGO_APP_ID``, the test app
  ``APP_ID``/``SECRET`` below is configured through ``ZEGO_APP_ID``/``ZEGO_SERVER_SECRET``.
- ``wait``: wait until ``/healthz`` answers 200 (fails the test with the server's output if
  the process exits first).

The server listens on 127.0.0.1 with ``--port 0`` (it picks a free port and logs it in its
"server starting" line) unless ``args`` says otherwise. The result is a ``RunningServer``: a
``str`` holding the base URL (``http://127.0.0.1:PORT``), with ``.process``, ``.output()`` (all
stdout and stderr so far), ``.records()`` (its JSON log lines, parsed), ``.terminate()`` and
``.wait_exit()``. Every server is stopped with SIGTERM when its fixture's scope ends.

``run_until_exit(config=None, env=None, args=())`` (a fixture) runs a server that is expected
to refuse to start and returns ``(exit code, stdout, stderr)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from tests.fixtures.processes import end_group, spawn

APP_ID = 1234567890
SECRET = "5f2a9c1e7b3d4a6f8e0c2b4d6a8f0e1c"  # the test app's ServerSecret (32 characters)
API_KEY = "zt_test_key_7Qm2Xr9LpV4sNw8Kd3Hf"
START_TIMEOUT = 30.0


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


API_KEY_SHA256 = sha256_hex(API_KEY)


class RunningServer(str):
    """The base URL of a running server, carrying its process and output."""

    process: subprocess.Popen[bytes]
    _lines: list[str]
    _reader: threading.Thread

    def __new__(cls, url: str) -> RunningServer:
        return super().__new__(cls, url)

    @property
    def url(self) -> str:
        return str(self)

    def output(self) -> str:
        return "".join(self._lines)

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines printed so far."""
        result = []
        for line in list(self._lines):
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    result.append(json.loads(line))
        return result

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = 20.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code


class StartServer(Protocol):
    def __call__(
        self,
        config: str | None = None,
        env: Mapping[str, str | None] | None = None,
        args: Sequence[str] = (),
        *,
        app: bool = True,
        wait: bool = True,
    ) -> RunningServer: ...


def server_env(env: Mapping[str, str | None] | None, *, app: bool) -> dict[str, str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith(("ZEGO_", "PROMETHEUS_"))}
    child["PYTHONUNBUFFERED"] = "1"
    if app and not (env and "ZEGO_APP_ID" in env):
        child["ZEGO_APP_ID"] = str(APP_ID)
        child["ZEGO_SERVER_SECRET"] = SECRET
    for key, value in (env or {}).items():
        if value is None:
            child.pop(key, None)
        else:
            child[key] = value
    return child


def _command(config_path: Path | None, args: Sequence[str]) -> list[str]:
    command = [sys.executable, "-m", "zego_token.server"]
    if config_path is not None:
        command += ["--config", str(config_path)]
    if "--host" not in args and "--demo" not in args:
        command += ["--host", "127.0.0.1"]
    if "--port" not in args:
        command += ["--port", "0"]
    return command + list(args)


class ServerManager:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.servers: list[RunningServer] = []

    def start(
        self,
        config: str | None = None,
        env: Mapping[str, str | None] | None = None,
        args: Sequence[str] = (),
        *,
        app: bool = True,
        wait: bool = True,
    ) -> RunningServer:
        index = len(self.servers)
        config_path = None
        if config is not None:
            config_path = self.directory / f"server-{index}.toml"
            config_path.write_text(config, encoding="utf-8")
        # Its own process group: stopping it ends the workers Granian forked too, even when the
        # main process had to be killed.
        process = spawn(
            _command(config_path, args),
            env=server_env(env, app=app),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        lines: list[str] = []
        started = threading.Event()
        url: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if not started.is_set() and '"server starting"' in line:
                    with contextlib.suppress(ValueError, KeyError):
                        url.append(json.loads(line)["url"])
                    started.set()
            started.set()

        reader = threading.Thread(target=read, daemon=True, name=f"server-{index}-output")
        reader.start()
        if not started.wait(START_TIMEOUT) or not url:
            end_group(process, timeout=0)
            reader.join(5)
            pytest.fail(f"token server did not start:\n{''.join(lines)}")
        server = RunningServer(url[0])
        server.process = process
        server._lines = lines
        server._reader = reader
        self.servers.append(server)
        if wait:
            self._wait_healthy(server)
        return server

    @staticmethod
    def _wait_healthy(server: RunningServer) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(
                    f"token server exited with {server.process.returncode}:\n{server.output()}"
                )
            try:
                if httpx.get(f"{server}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"token server did not answer /healthz:\n{server.output()}")

    def stop_all(self) -> None:
        for server in self.servers:
            server.terminate()
        for server in self.servers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait_exit(20)
            # Whatever is left of its group (a worker whose main process died or hung) goes too.
            end_group(server.process, timeout=5)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Factory starting real server processes, stopped at the end of the test."""
    manager = ServerManager(tmp_path)
    yield manager.start
    manager.stop_all()


@pytest.fixture(scope="module")
def start_module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """The same factory, with servers shared by the tests of one module."""
    manager = ServerManager(tmp_path_factory.mktemp("servers"))
    yield manager.start
    manager.stop_all()


def run_server_until_exit(
    config: str | None = None,
    env: Mapping[str, str | None] | None = None,
    args: Sequence[str] = (),
    *,
    app: bool = True,
    directory: Path,
    timeout: float = 30.0,
) -> tuple[int, str, str]:
    """Run a server expected to refuse to start: ``(exit code, stdout, stderr)``."""
    config_path = None
    if config is not None:
        config_path = directory / "refused.toml"
        config_path.write_text(config, encoding="utf-8")
    process = spawn(
        _command(config_path, args),
        env=server_env(env, app=app),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        # A server that started after all is ended with its workers, and the test fails.
        end_group(process, timeout=5)
    return process.returncode, stdout.decode(), stderr.decode()


def api_key_config(extra: str = "", *, name: str = "backend", key_hash: str | None = None) -> str:
    """A TOML config with one API key (``API_KEY``) plus ``extra``."""
    return f'[[auth.api_keys]]\nname = "{name}"\nsha256 = "{key_hash or API_KEY_SHA256}"\n' + extra


def bearer(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class RunUntilExit(Protocol):
    def __call__(
        self,
        config: str | None = None,
        env: Mapping[str, str | None] | None = None,
        args: Sequence[str] = (),
        *,
        app: bool = True,
    ) -> tuple[int, str, str]: ...


@pytest.fixture
def run_until_exit(tmp_path: Path) -> RunUntilExit:
    """Run a server expected to refuse to start: returns ``(exit code, stdout, stderr)``."""

    def run(
        config: str | None = None,
        env: Mapping[str, str | None] | None = None,
        args: Sequence[str] = (),
        *,
        app: bool = True,
    ) -> tuple[int, str, str]:
        return run_server_until_exit(config, env, args, app=app, directory=tmp_path)

    return run
