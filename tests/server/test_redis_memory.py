"""A Redis that forgets (``kill -9`` and a restart, nothing persisted) must not forget the limit:
every server process keeps its own hits per key and puts them back into the lost window."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.fixtures.redis_server import RestartableRedis, restartable_redis_server
from tests.server.conftest import StartServer, api_key_config, bearer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

LIMIT = 300


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    with restartable_redis_server(tmp_path) as server:
        yield server


def admitted(server: str, requests: int) -> int:
    """``requests`` token requests by one API key from 8 concurrent clients: how many got 200
    (the others must be 429)."""
    with httpx.Client(timeout=10, headers=bearer()) as client, ThreadPoolExecutor(8) as pool:

        def one(_: int) -> int:
            return client.get(f"{server}/api/token", params={"userID": "alice"}).status_code

        statuses = list(pool.map(one, range(requests)))
    assert set(statuses) <= {200, 429}, statuses
    return statuses.count(200)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_redis_that_lost_its_data_still_admits_at_most_the_limit(
    start_server: StartServer, redis: RestartableRedis, workers: int
) -> None:
    server = start_server(
        api_key_config(
            f'[rate_limit]\nper_identity = {LIMIT}\nwindow = 600\nredis_url = "{redis.url}"\n'
        ),
        args=["--workers", str(workers)],
    )
    before = admitted(server, 200)
    redis.kill()
    redis.start()
    after = admitted(server, 350)
    print(f"\n{workers} worker(s), limit {LIMIT}: {before} + {after} = {before + after} admitted")
    assert before == 200
    # Exact with one process; with two, a hit in flight while Redis died may be counted once
    # more (the issue allows 2 %).
    assert before + after <= (LIMIT if workers == 1 else LIMIT * 1.02)
    assert before + after >= LIMIT - 2  # and the limit is not over-enforced either
