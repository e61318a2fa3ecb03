"""Both rate limits in one Redis round trip: a real server process counting in a real
redis-server, whose own command statistics (``INFO commandstats``) say what each request cost.

With per-IP and per-identity limits on, the server authenticates first, then counts the client
IP and the identity in one script call. The tests here check the count of calls and that the
limits still mean what they meant when each was asked on its own: every request counted on its
IP (a wrong credential too, and a wrong credential from an IP over its limit gets the 429, not
the 401), an identity counted only once authenticated, and not for a request its IP refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from tests.fixtures.redis_ha import redis_cluster
from tests.fixtures.redis_server import redis_server
from tests.server.conftest import StartServer, api_key_config, bearer

pytestmark = [pytest.mark.redis]

REQUESTS = 60
PREFIX = "zego-token:rl:"
IDENTITY_KEY = PREFIX + "api_key:backend"  # method:subject of api_key_config's key
SCRIPT_COMMANDS = {"hincrby", "pttl", "pexpire", "hvals", "hget", "hset"}
CONNECTION_SETUP = {"hello", "client|setinfo", "select", "auth"}


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own: its command statistics count this test alone."""
    with redis_server(tmp_path) as url:
        yield url


def limits_config(redis_url: str, *, per_ip: int, per_identity: int, extra: str = "") -> str:
    return api_key_config(
        '[server]\ntrusted_proxies = ["127.0.0.1"]\n'
        f"[rate_limit]\nper_ip = {per_ip}\nper_identity = {per_identity}\nwindow = 600\n"
        f'redis_url = "{redis_url}"\n' + extra
    )


def command_calls(store: redis.Redis) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT, the statistics' own left out."""
    stats = store.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}
    return {name: n for name, n in calls.items() if name not in ("info", "config|resetstat")}


def totals(store: redis.Redis) -> dict[str, int]:
    """Each window's total: the sum of its fields (one per server process)."""
    return {
        key.decode(): sum(int(v) for v in store.hgetall(key).values())
        for key in store.scan_iter(PREFIX + "*")
    }


def token(client: httpx.Client, server: str, ip: str, *, key: str | None = None) -> int:
    """A token request from client ``ip`` (behind the trusted proxy), with the test API key
    or ``key``; its status."""
    headers = {"X-Forwarded-For": ip, **bearer(*(() if key is None else (key,)))}
    return client.get(
        f"{server}/api/token", params={"userID": "alice"}, headers=headers
    ).status_code


def test_both_limits_cost_one_script_call_per_request(
    start_server: StartServer, redis_url: str
) -> None:
    server = start_server(limits_config(redis_url, per_ip=10**6, per_identity=10**6))
    store = redis.Redis.from_url(redis_url)
    with httpx.Client(timeout=10) as client:
        assert token(client, server, "203.0.113.1") == 200  # the script is loaded now
        store.config_resetstat()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(
                pool.map(lambda n: token(client, server, f"203.0.113.{n % 7}"), range(REQUESTS))
            )
    calls = command_calls(store)
    print(f"\n{REQUESTS} requests with both limits on, Redis commands: {calls}")
    assert statuses == [200] * REQUESTS
    # One call a request: the script. The other statistics are the commands the script runs
    # (two HINCRBY a request: the IP's window and the identity's) and the handshakes of the
    # connections the pool opened meanwhile.
    assert calls.pop("evalsha") == REQUESTS
    assert calls["hincrby"] == 2 * REQUESTS
    assert set(calls) <= SCRIPT_COMMANDS | CONNECTION_SETUP, calls
    # and both limits counted every request: seven client IPs and the one identity
    counted = totals(store)
    assert counted[IDENTITY_KEY] == REQUESTS + 1
    assert sum(n for key, n in counted.items() if key.startswith(PREFIX + "ip:")) == REQUESTS + 1


def test_a_wrong_credential_is_counted_by_ip_and_gets_the_429_once_it_is_over(
    start_server: StartServer, redis_url: str
) -> None:
    """Guessing keys from one IP is held to the per-IP limit; past it, the right key and a wrong
    one get the same 429, so the answer says nothing about the key."""
    server = start_server(limits_config(redis_url, per_ip=3, per_identity=100))
    store = redis.Redis.from_url(redis_url)
    with httpx.Client(timeout=10) as client:
        guesses = [token(client, server, "198.51.100.9", key=f"guess-{n}") for n in range(3)]
        assert guesses == [401, 401, 401]
        assert token(client, server, "198.51.100.9", key="guess-3") == 429
        assert token(client, server, "198.51.100.9") == 429  # the right key: the same answer
        assert token(client, server, "198.51.100.9", key=None) == 429
        assert token(client, server, "198.51.100.10") == 200  # another IP is not held
    counted = totals(store)
    assert counted[PREFIX + "ip:198.51.100.9"] == 6
    # the identity was counted once: the one request of its own IP's that was admitted
    assert counted[IDENTITY_KEY] == 1


def test_a_request_its_ip_refused_costs_the_identity_nothing(
    start_server: StartServer, redis_url: str
) -> None:
    server = start_server(limits_config(redis_url, per_ip=2, per_identity=4))
    with httpx.Client(timeout=10) as client:
        first = [token(client, server, "192.0.2.1") for _ in range(5)]
        second = [token(client, server, "192.0.2.2") for _ in range(4)]
    assert first == [200, 200, 429, 429, 429]  # the IP's limit
    # The identity has 2 of its 4 used (not 5): two more from elsewhere, then its own 429.
    assert second == [200, 200, 429, 429]


def test_without_a_credential_mode_the_ip_limit_alone_applies(
    start_server: StartServer, redis_url: str
) -> None:
    """``auth.modes = ["none"]``: everyone is "anonymous", so only the IP is counted (one key
    a request, the same script)."""
    server = start_server(
        '[server]\ntrusted_proxies = ["127.0.0.1"]\n'
        f'[rate_limit]\nper_ip = 3\nper_identity = 1\nwindow = 600\nredis_url = "{redis_url}"\n'
    )
    store = redis.Redis.from_url(redis_url)
    with httpx.Client(timeout=10) as client:
        statuses = [
            client.get(
                f"{server}/api/token",
                params={"userID": "alice"},
                headers={"X-Forwarded-For": ip},
            ).status_code
            for ip in ["192.0.2.7"] * 4 + ["192.0.2.8"]
        ]
    assert statuses == [200, 200, 200, 429, 200]
    assert set(totals(store)) == {PREFIX + "ip:192.0.2.7", PREFIX + "ip:192.0.2.8"}


@pytest.mark.slow
def test_a_cluster_counts_both_limits_with_two_calls_at_once(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A Cluster keeps each key in its own slot (no shared hash tag: that would put every
    count on one node), so a request there costs two script calls, sent together; a request
    its IP refuses is then counted on its identity too. The limits hold, and the windows are
    spread over the primaries."""
    with redis_cluster(tmp_path / "cluster") as cluster:
        server = start_server(
            limits_config(cluster.url, per_ip=4, per_identity=70, extra="cluster = true\n"),
            args=["--workers", "2"],
        )
        clients = [f"203.0.113.{n}" for n in range(1, 11)]
        with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda ip: token(client, server, ip), clients * 6))
        assert statuses.count(200) == 4 * len(clients), statuses
        assert set(statuses) == {200, 429}
        owners = {cluster.owner_of(PREFIX + f"ip:{ip}") for ip in clients}
        assert len(owners) > 1, owners  # the IPs' windows are on more than one primary
        with httpx.Client(timeout=10) as client:
            more = [token(client, server, f"198.51.100.{n}") for n in range(1, 21)]
        # The identity has 60 counted (40 admitted, 20 its IPs refused): 10 more, then 429s.
        assert more == [200] * 10 + [429] * 10, more
