"""Redis restarted or down under a real server process.

A restart must cost no request: every pooled connection is dead afterwards, and each is retried
once on a fresh connection. An outage fails closed (503) without flooding the log: the "store
unreachable" line comes at most once a second per cause, with the count of lines held back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.fixtures.redis_server import RestartableRedis, restartable_redis_server
from tests.server.conftest import StartServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

THREADS = 24  # enough concurrent requests to open a couple of dozen pooled connections


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    with restartable_redis_server(tmp_path) as server:
        yield server


def config(redis_url: str) -> str:
    return (
        f'[rate_limit]\nper_ip = 1000000\nredis_url = "{redis_url}"\non_store_failure = "refuse"\n'
    )


def burst(server: str, requests: int) -> list[int]:
    """``requests`` token requests from ``THREADS`` concurrent clients; their statuses."""

    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(THREADS) as pool:

        def one(_: int) -> int:
            return client.get(f"{server}/api/token", params={"userID": "alice"}).status_code

        return list(pool.map(one, range(requests)))


def test_a_redis_restart_costs_no_request(
    start_server: StartServer, redis: RestartableRedis
) -> None:
    server = start_server(config(redis.url))
    assert burst(server, 200) == [200] * 200  # the pool now holds many open connections
    redis.restart()
    assert httpx.get(f"{server}/readyz", timeout=10).status_code == 200
    after = burst(server, 200)
    print(f"\nafter a Redis restart: {after.count(503)} of {len(after)} requests got 503")
    assert after.count(503) == 0, after


def test_an_outage_fails_closed_with_a_throttled_log_line(
    start_server: StartServer, redis: RestartableRedis
) -> None:
    server = start_server(config(redis.url))
    assert burst(server, 50) == [200] * 50
    redis.stop()
    began = time.monotonic()
    statuses = burst(server, 200)
    seconds = time.monotonic() - began
    assert statuses == [503] * 200
    time.sleep(0.3)  # the request lines are flushed within 50 ms
    lines = [
        r for r in server.records() if r.get("msg", "").startswith("rate limit store unreachable")
    ]
    print(f"\nRedis down, 200 requests in {seconds:.1f} s: {len(lines)} 'unreachable' lines")
    # One line a second per cause (the causes here: refused connections, maybe a reset).
    assert 1 <= len(lines) <= 2 * (seconds + 1), lines
    assert all(line["level"] == "error" and "cause" in line for line in lines)
    assert all(isinstance(line["suppressed"], int) for line in lines)
    # A second burst a second later: the next line reports how many were held back.
    time.sleep(1.1)
    burst(server, 5)
    time.sleep(0.3)
    later = [
        r for r in server.records() if r.get("msg", "").startswith("rate limit store unreachable")
    ][len(lines) :]
    assert later and later[0]["suppressed"] > 0
    assert len(lines) + sum(line["suppressed"] for line in lines + later) <= 205
