"""Start-up over real processes: host names, a busy port, a secret with a trailing newline.

Each refusal is one line on stderr and exit status 2, and never disturbs a server already
running.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server.conftest import SECRET, RunUntilExit, StartServer
from zego_token import decode_token04
from zego_token.server.config import Overrides, load_settings


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    return lines[0]


def _answers(port: int) -> None:
    response = httpx.get(f"http://127.0.0.1:{port}/api/token", params={"userID": "a"}, timeout=10)
    assert response.status_code == 200, response.text
    decode_token04(response.json()["token"], SECRET)


# -- host names -------------------------------------------------------------------------------


def test_host_localhost_listens_on_127_0_0_1(start_server: StartServer) -> None:
    server = start_server(args=["--host", "localhost", "--port", "0"])
    assert urlsplit(server).hostname == "127.0.0.1"
    _answers(_port(server))


def test_localhost_counts_as_loopback_because_every_address_it_resolves_to_is() -> None:
    settings = load_settings(
        Overrides(host="localhost"), {"ZEGO_APP_ID": "5", "ZEGO_SERVER_SECRET": SECRET}
    )
    assert settings.auth.modes == ("none",)
    assert settings.addresses and all(a in ("127.0.0.1", "::1") for a in settings.addresses)
    assert settings.bind_address == "127.0.0.1"


def test_a_host_name_that_does_not_resolve_is_one_line(run_until_exit: RunUntilExit) -> None:
    # .invalid never resolves (RFC 6761); resolution fails without a network round trip.
    code, _, stderr = run_until_exit(args=["--host", "no-such-host.invalid"])
    line = _one_error_line(stderr)
    assert code == 2
    assert "server.host" in line and "cannot resolve 'no-such-host.invalid'" in line


# -- a busy port -------------------------------------------------------------------------------


@pytest.mark.parametrize("reuse_port", ["false", "true"])
def test_a_port_held_by_a_plain_socket_is_one_line_naming_it(
    run_until_exit: RunUntilExit, reuse_port: str
) -> None:
    # Even server.reuse_port = true cannot join a listener that did not set SO_REUSEPORT.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, _, stderr = run_until_exit(
            env={"ZEGO_TOKEN_SERVER_REUSE_PORT": reuse_port}, args=["--port", str(port)]
        )
        line = _one_error_line(stderr)
        assert code == 2
        assert f"port {port} is already in use" in line
        # The holder is untouched: it still accepts a connection.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def test_a_second_server_on_the_port_of_a_running_one_refuses_and_leaves_it_alone(
    start_server: StartServer, run_until_exit: RunUntilExit
) -> None:
    first = start_server()
    port = _port(first)
    for args in (["--port", str(port)], ["--demo", "--port", str(port)]):
        code, _, stderr = run_until_exit(args=args)
        line = _one_error_line(stderr)
        assert code == 2
        assert f"127.0.0.1:{port}" in line and f"port {port} is already in use" in line
    # Not shared, not stopped: every request still reaches the first server.
    for _ in range(5):
        _answers(port)
    assert first.process.poll() is None


def test_reuse_port_shares_a_port_only_when_asked(start_server: StartServer) -> None:
    # A short drain: on SIGTERM one of two servers sharing a port has been seen to wait out the
    # whole shutdown_timeout (30 s by default) before it exits.
    shared = {"ZEGO_TOKEN_SERVER_REUSE_PORT": "true", "ZEGO_TOKEN_SERVER_SHUTDOWN_TIMEOUT": "2"}
    first = start_server(env=shared)
    port = _port(first)
    second = start_server(env=shared, args=["--port", str(port)])
    assert _port(second) == port
    assert first.process.poll() is None and second.process.poll() is None
    _answers(port)


# -- the secret from the environment -------------------------------------------------------------


def test_secret_with_a_trailing_newline_from_the_environment_is_stripped(
    start_server: StartServer,
) -> None:
    # What `kubectl create secret --from-file` puts in the variable: the file's final newline.
    server = start_server(env={"ZEGO_APP_ID": "1234567890", "ZEGO_SERVER_SECRET": SECRET + "\n"})
    response = httpx.get(f"{server}/api/token", params={"userID": "alice"}, timeout=10)
    assert response.status_code == 200
    claims = decode_token04(response.json()["token"], SECRET, app_id=1234567890)
    assert claims.user_id == "alice"


@pytest.mark.parametrize(
    ("value", "words"),
    [(SECRET + "x\n", "got 33 characters"), (" \n", "got 0 characters")],
    ids=["33-after-stripping", "only-whitespace"],
)
def test_secret_of_the_wrong_length_after_stripping_is_still_refused(
    run_until_exit: RunUntilExit, value: str, words: str
) -> None:
    code, _, stderr = run_until_exit(env={"ZEGO_APP_ID": "5", "ZEGO_SERVER_SECRET": value})
    line = _one_error_line(stderr)
    assert code == 2
    assert line.startswith("zego-token: configuration key ZEGO_SERVER_SECRET: secret must be")
    assert words in line and SECRET not in line


def test_both_secret_variables_at_once_are_refused(run_until_exit: RunUntilExit) -> None:
    code, _, stderr = run_until_exit(
        env={
            "ZEGO_APP_ID": "5",
            "ZEGO_SERVER_SECRET": SECRET,
            "ZEGO_SERVER_SECRET_FILE": "/dev/null",
        }
    )
    line = _one_error_line(stderr)
    assert code == 2
    assert "ZEGO_SERVER_SECRET and ZEGO_SERVER_SECRET_FILE" in line and "not both" in line
