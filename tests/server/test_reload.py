"""SIGHUP reloads the configuration under load: the main process reads and checks it, the
workers are replaced one by one with it, no request fails; a broken file keeps the running
configuration serving, with one error line."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import APP_ID, SECRET, RunningServer, StartServer, sha256_hex
from zego_token.errors import DecryptionFailed
from zego_token.token04 import decode_token04

STAYING = "zt_staying_key_9Kq2Lm4Np6Rs8Tv0Wx"
REVOKED = "zt_revoked_key_3Ab5Cd7Ef9Gh1Ij2Kl"
ADDED = "zt_added_key_6Mn8Op0Qr2St4Uv6Wx8"
NEW_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
APPLY_WITHIN = 2.0  # seconds from SIGHUP until every new rule answers, consistently
CONSISTENT = 20  # probes in a row that must all see the new rules


def config(max_ttl: int, *keys: str) -> str:
    text = f"[token]\nmax_ttl = {max_ttl}\n"
    for index, key in enumerate(keys):
        text += f'\n[[auth.api_keys]]\nname = "key-{index}"\nsha256 = "{sha256_hex(key)}"\n'
    return text


def get_once(client: httpx.Client, server: str, key: str, ttl: int) -> httpx.Response:
    return client.get(
        f"{server}/api/token",
        params={"userID": "alice", "expired_ts": str(ttl)},
        headers={"authorization": f"Bearer {key}"},
    )


def ask(client: httpx.Client, server: str, key: str, ttl: int) -> tuple[httpx.Response, bool]:
    """The answer, and whether the request had to be sent again: once, when its kept-alive
    connection closed before any answer (see ``Load``)."""
    try:
        return get_once(client, server, key, ttl), False
    except httpx.RemoteProtocolError as error:
        if "without sending a response" not in str(error):
            raise
    return get_once(client, server, key, ttl), True


def get(client: httpx.Client, server: str, key: str, ttl: int) -> httpx.Response:
    return ask(client, server, key, ttl)[0]


class Load:
    """Clients asking for tokens without pause, with a key and TTL valid before and after.

    A request sent on a kept-alive connection just as the old worker closes it is lost before
    any answer: the race every HTTP/1.1 server has when it closes an idle connection. Browsers
    and Go's net/http send such a request again on a new connection, once; these clients do
    the same and count it in ``resent``. Any other error, or a second loss, is a failure."""

    def __init__(self, server: str, clients: int = 4) -> None:
        self.server = server
        self.sent = 0
        self.resent = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                resent = False
                try:
                    response, resent = ask(client, self.server, STAYING, 3000)
                    failure = None if response.status_code == 200 else str(response.status_code)
                except httpx.TransportError as error:
                    failure = type(error).__name__
                with self._lock:
                    self.resent += resent
                    self.sent += 1
                    if failure is not None:
                        self.failures.append(failure)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(20)


def wait_until(check: Callable[[], bool], timeout: float) -> float | None:
    """Seconds from now until ``check`` began to hold, then held ``CONSISTENT`` times in a
    row (the probes that confirm it are not counted), or None."""
    start = time.monotonic()
    streak = 0
    since = start
    while time.monotonic() - start < timeout:
        probed = time.monotonic()
        if check():
            if streak == 0:
                since = probed
            streak += 1
        else:
            streak = 0
        if streak >= CONSISTENT:
            return since - start
    return None


def worker_pids(server: RunningServer) -> list[int]:
    return [r["pid"] for r in server.records() if r.get("msg") == "worker started"]


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "server-secret"
    path.write_text(SECRET + "\n")
    return path


def test_sighup_applies_new_rules_keys_and_secret_under_load_without_a_failed_request(
    start_server: StartServer, tmp_path: Path, secret_file: Path
) -> None:
    server = start_server(
        config(7200, STAYING, REVOKED),
        env={
            "ZEGO_APP_ID": str(APP_ID),
            "ZEGO_SERVER_SECRET": None,
            "ZEGO_SERVER_SECRET_FILE": str(secret_file),
        },
        args=["--workers", "2"],
    )
    file = tmp_path / "server-0.toml"  # where start_server wrote the configuration
    # A new connection per probe: the kernel spreads them over the workers' listeners, so a
    # rule counts as applied only once every worker answers with it.
    with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as probe:
        assert get(probe, server, STAYING, 7200).status_code == 200
        assert get(probe, server, REVOKED, 600).status_code == 200
        assert get(probe, server, ADDED, 600).status_code == 401
        deadline = time.monotonic() + 20
        while len(worker_pids(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # /healthz answered as soon as one worker was up
        started_workers = len(worker_pids(server))
        assert started_workers == 2

        with Load(server) as load:
            time.sleep(0.5)
            before = load.sent
            file.write_text(config(3600, STAYING, ADDED))
            secret_file.write_text(NEW_SECRET + "\n")
            server.process.send_signal(signal.SIGHUP)

            probes = resets = 0

            def new_rules() -> bool:
                nonlocal probes, resets
                probes += 1
                try:
                    return (
                        get(probe, server, STAYING, 7200).status_code == 422
                        and get(probe, server, REVOKED, 600).status_code == 401
                        and get(probe, server, ADDED, 600).status_code == 200
                    )
                except (httpx.ReadError, httpx.ConnectError):
                    # A connection still queued on the old worker's listener when it closes
                    # is reset, unless net.ipv4.tcp_migrate_req=1 (docs/deploy.md).
                    resets += 1
                    return False

            applied = wait_until(new_rules, 10)
            time.sleep(0.5)  # the load keeps going on the new workers
        during = load.sent - before
        token = get(probe, server, ADDED, 600).json()["token"]

    print(
        f"\nreload under load: {during} requests sent during the reload, "
        f"{len(load.failures)} failed, {load.resent} sent again after their kept-alive "
        f"connection closed unanswered, new rules applied after {applied} s; probes on new "
        f"connections: {probes}, reset: {resets} (tcp_migrate_req={_migrate_req()})"
    )
    assert load.failures == [], load.failures[:10]
    assert applied is not None and applied <= APPLY_WITHIN, applied
    assert during > 0
    # Both workers were replaced, and the ServerSecret file was read again.
    assert len(worker_pids(server)) == started_workers + 2
    decode_token04(token, NEW_SECRET, app_id=APP_ID)
    with pytest.raises(DecryptionFailed):
        decode_token04(token, SECRET, app_id=APP_ID)
    reloaded = [r for r in server.records() if r.get("msg", "").startswith("configuration")]
    assert [r["msg"] for r in reloaded] == ["configuration reloaded: replacing the workers"]


def test_a_broken_configuration_on_sighup_keeps_the_running_one_serving(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(config(7200, STAYING))
    file = tmp_path / "server-0.toml"
    with Load(server, clients=2) as load:
        time.sleep(0.3)
        file.write_text(config(7200, STAYING) + "\n[token]\nmax_ttl = 60\n")  # a repeated table
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            r.get("level") == "error" for r in server.records()
        ):
            time.sleep(0.05)
        file.write_text("[token]\nmax_ttl = 60\n")  # valid TOML, an invalid configuration
        server.process.send_signal(signal.SIGHUP)
        time.sleep(1.0)
    assert load.failures == [] and load.sent > 0
    errors = [r for r in server.records() if r.get("level") == "error"]
    assert len(errors) == 2, errors
    assert errors[0]["msg"].startswith(
        "configuration not reloaded, the running one keeps serving: configuration key --config:"
    )
    assert errors[1]["msg"] == (
        "configuration not reloaded, the running one keeps serving: configuration key "
        "token.default_ttl: is 3600, outside token.min_ttl..token.max_ttl (60..60)"
    )
    assert len(worker_pids(server)) == 1  # no worker was replaced
    with httpx.Client() as probe:
        assert get(probe, server, STAYING, 7200).status_code == 200  # the old max_ttl


def _migrate_req() -> str:
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip()
    except OSError:
        return "unknown"
