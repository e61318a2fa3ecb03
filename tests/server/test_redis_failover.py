"""No single point of failure: the Redis primary killed under load, with real redis-sentinel
processes or a real Redis Cluster promoting a replica, and a real two-worker server counting.

The timeline printed is the one the docs quote: the kill, the promotion as the sentinels (or the
cluster) report it, and the first request the store counted again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.fixtures.redis_ha import SERVICE, SentinelSet, redis_cluster, sentinel_set
from tests.server.conftest import StartServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

RECOVERY_SECONDS = 3.0


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    with sentinel_set(tmp_path / "redis") as found:
        yield found


class Load:
    """Token requests from four client threads until stopped: (monotonic time, status)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.results: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(4)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    status = client.get(
                        f"{self.server}/api/token", params={"userID": "alice"}
                    ).status_code
                except httpx.TransportError:
                    status = 0
                self.results.append((time.monotonic(), status))
                time.sleep(0.005)


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """The monotonic time ``condition`` first held (polled every 10 ms); fails on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.01)
    pytest.fail(f"not within {timeout} s")


def timeline(load: Load, killed: float, promoted: float) -> tuple[float | None, dict[int, int]]:
    """Seconds from the promotion to the first 200 after it, and the statuses by count."""
    statuses: dict[int, int] = {}
    for _, status in load.results:
        statuses[status] = statuses.get(status, 0) + 1
    first = next((t for t, s in sorted(load.results) if t >= promoted and s == 200), None)
    print(
        f"\nkill at 0.00 s, promotion at {promoted - killed:.2f} s, first 200 after it at "
        f"{'-' if first is None else f'{first - killed:.2f} s'}; statuses {statuses}"
    )
    return (None if first is None else first - promoted), statuses


def sentinel_config(found: SentinelSet, on_store_failure: str) -> str:
    return (
        f"[rate_limit]\nper_ip = 1000000\nsentinels = {found.addresses!r}\n".replace("'", '"')
        + f'sentinel_service = "{SERVICE}"\non_store_failure = "{on_store_failure}"\n'
    )


def test_a_sentinel_failover_under_load_is_followed_within_3_s(
    start_server: StartServer, sentinels: SentinelSet
) -> None:
    """Fail closed (``refuse``) so that the gap is visible: 503s while no primary answers, then
    200s within 3 s of the promotion, and never a 500."""
    server = start_server(sentinel_config(sentinels, "refuse"), args=["--workers", "2"])
    old = sentinels.primary_port()
    assert old is not None
    with Load(server) as load:
        time.sleep(1.0)
        killed = time.monotonic()
        sentinels.server(old).kill()
        promoted = wait_for(lambda: sentinels.primary_port() not in (None, old), 30)
        time.sleep(RECOVERY_SECONDS + 1.0)
    recovered, statuses = timeline(load, killed, promoted)
    assert 500 not in statuses and 0 not in statuses, statuses
    assert recovered is not None and recovered <= RECOVERY_SECONDS
    # and from then on every request is counted by the new primary
    late = [s for t, s in load.results if t >= promoted + RECOVERY_SECONDS]
    assert late and set(late) == {200}, statuses


def test_with_on_store_failure_local_a_failover_costs_no_request(
    start_server: StartServer, sentinels: SentinelSet
) -> None:
    server = start_server(sentinel_config(sentinels, "local"), args=["--workers", "2"])
    old = sentinels.primary_port()
    assert old is not None
    with Load(server) as load:
        time.sleep(1.0)
        killed = time.monotonic()
        sentinels.server(old).kill()
        promoted = wait_for(lambda: sentinels.primary_port() not in (None, old), 30)
        time.sleep(RECOVERY_SECONDS + 1.0)
    _, statuses = timeline(load, killed, promoted)
    assert set(statuses) == {200}, statuses
    metrics = httpx.get(f"{server}/metrics", timeout=5).text
    assert 'zego_rate_limit_store_events_total{event="local"}' in metrics
    assert 'zego_rate_limit_store_events_total{event="recovered"}' in metrics


def test_a_cluster_counts_keys_spread_over_its_nodes(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Twenty client IPs (behind a trusted proxy) land on the three primaries' slots; each gets
    exactly its limit."""
    with redis_cluster(tmp_path / "cluster") as cluster:
        server = start_server(
            '[server]\ntrusted_proxies = ["127.0.0.1"]\n'
            f'[rate_limit]\nper_ip = 5\ncluster = true\nredis_url = "{cluster.url}"\n',
            args=["--workers", "2"],
        )
        clients = [f"203.0.113.{n}" for n in range(1, 21)]
        with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:

            def one(ip: str) -> int:
                return client.get(
                    f"{server}/api/token",
                    params={"userID": "alice"},
                    headers={"X-Forwarded-For": ip},
                ).status_code

            statuses = list(pool.map(one, clients * 8))
        assert statuses.count(200) == 5 * len(clients), statuses
        assert set(statuses) == {200, 429}


def test_a_cluster_failover_under_load_is_followed_within_3_s(
    start_server: StartServer, tmp_path: Path
) -> None:
    with redis_cluster(tmp_path / "cluster", primaries=3, replicas=1) as cluster:
        server = start_server(
            f'[rate_limit]\nper_ip = 1000000\ncluster = true\nredis_url = "{cluster.url}"\n'
            'on_store_failure = "refuse"\n',
            args=["--workers", "2"],
        )
        key = "zego-token:rl:ip:127.0.0.1"  # the load's only key
        victim = cluster.owner_of(key)
        assert victim is not None
        with Load(server) as load:
            time.sleep(1.0)
            killed = time.monotonic()
            cluster.node(victim).kill()
            promoted = wait_for(lambda: cluster.owner_of(key) not in (None, victim), 30)
            time.sleep(RECOVERY_SECONDS + 1.0)
        recovered, statuses = timeline(load, killed, promoted)
        assert 500 not in statuses and 0 not in statuses, statuses
        assert recovered is not None and recovered <= RECOVERY_SECONDS
        late = [s for t, s in load.results if t >= promoted + RECOVERY_SECONDS]
        assert late and set(late) == {200}, statuses
