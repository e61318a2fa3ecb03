"""200 concurrent clients for 8 s (30 s with ZEGO_TEST_LONG=1) against a server with 2 workers
sharing a real Redis limiter.

The limit is per identity (API key) with a window longer than the run, so each identity has
exactly one window and the check is exact: an identity asked ``n`` times was admitted exactly
``min(n, limit)`` times, whichever worker answered. A fresh batch of identities takes over each
time the current one has been asked past its limit, so tokens are minted for the whole run,
not only in its first second, however fast the machine is. Every admitted request's
token is decoded with the library; the workers that started are the workers that finish.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import LONG
from tests.security.conftest import alive, worker_pids
from tests.server.conftest import APP_ID, SECRET, RunningServer, sha256_hex
from zego_token import decode_token04

StartServer = Callable[..., RunningServer]
CLIENTS = 200
SECONDS = 30.0 if LONG else 8.0
LIMIT = 40 if LONG else 20  # per identity per window
WINDOW = 120  # longer than the run: one window per identity
KEYS_PER_BATCH = 20
# The clients move on to a fresh batch of identities once the current one has been asked
# LIMIT + 5 times per identity (so each is over its limit), however fast the machine is; the
# run ends at SECONDS or after the last batch.
ASKS_PER_BATCH = KEYS_PER_BATCH * (LIMIT + 5)
BATCHES = 30 if LONG else 6


@dataclass(frozen=True, slots=True)
class Outcome:
    key: int
    user_id: str
    status: int
    token: str | None


def config(keys: list[str], redis_url: str) -> str:
    entries = "".join(
        f'[[auth.api_keys]]\nname = "load-{i}"\nsha256 = "{sha256_hex(key)}"\n\n'
        for i, key in enumerate(keys)
    )
    return f"""{entries}
[rate_limit]
per_identity = {LIMIT}
window = {WINDOW}
redis_url = "{redis_url}"
key_prefix = "concurrency-{secrets.token_hex(4)}:"
# Exact counting by a healthy Redis is what is checked: a Redis too slow to answer must show as
# a 503, not as the in-memory estimate the default ("local") would decide by.
on_store_failure = "refuse"
"""


async def client(
    index: int, base: str, keys: list[str], asks: list[int], deadline: float, out: list[Outcome]
) -> None:
    user_id = f"user-{index}"
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        while (now := time.monotonic()) < deadline or (
            # On a machine too busy to finish one batch by the deadline, go on a while.
            asks[0] < ASKS_PER_BATCH and now < deadline + 3 * SECONDS
        ):
            # One event loop: the shared counter needs no lock.
            batch = asks[0] // ASKS_PER_BATCH
            if batch >= BATCHES:
                return
            asks[0] += 1
            key = batch * KEYS_PER_BATCH + index % KEYS_PER_BATCH
            response = await http.get(
                "/api/token",
                params={"userID": user_id, "expired_ts": "600"},
                headers={"Authorization": f"Bearer {keys[key]}"},
            )
            token = response.json().get("token") if response.status_code == 200 else None
            out.append(Outcome(key, user_id, response.status_code, token))


async def load(base: str, keys: list[str]) -> list[Outcome]:
    out: list[Outcome] = []
    asks = [0]
    deadline = time.monotonic() + SECONDS
    await asyncio.gather(*(client(i, base, keys, asks, deadline, out) for i in range(CLIENTS)))
    return out


@pytest.mark.slow
@pytest.mark.redis
def test_200_clients_two_workers_one_redis(start_server: StartServer, redis_url: str) -> None:
    keys = [f"zt_load_{i:03d}_{secrets.token_urlsafe(12)}" for i in range(BATCHES * KEYS_PER_BATCH)]
    server = start_server(config(keys, redis_url), args=["--workers", "2"])
    deadline = time.monotonic() + 15
    while len(worker_pids(server)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = sorted(worker_pids(server))
    assert len(before) == 2, server.output()
    assert httpx.get(f"{server}/readyz").json()["checks"]["rate_limit"] is True

    started = time.monotonic()
    outcomes = asyncio.run(load(server, keys))
    elapsed = time.monotonic() - started

    statuses = Counter(o.status for o in outcomes)
    assert set(statuses) <= {200, 429}, statuses  # nothing else: no 5xx, no 503 from Redis
    # Every admitted request got a real token for its own user, from this app's secret.
    for outcome in outcomes:
        if outcome.status == 200:
            assert outcome.token is not None
            claims = decode_token04(outcome.token, SECRET, app_id=APP_ID, user_id=outcome.user_id)
            assert claims.expire - claims.ctime == 600
    # Exactly min(asked, limit) per identity, summed over both workers.
    asked = Counter(o.key for o in outcomes)
    admitted = Counter(o.key for o in outcomes if o.status == 200)
    for key, count in asked.items():
        assert admitted[key] == min(count, LIMIT), (key, count, admitted[key])
    saturated = sum(1 for count in asked.values() if count > LIMIT)
    # Every batch but the one the deadline cut short asked each identity past its limit.
    assert saturated >= len(asked) - KEYS_PER_BATCH, "too few identities reached the limit"
    assert saturated >= KEYS_PER_BATCH, "not even one batch of identities reached the limit"
    # Neither worker died: the same two PIDs, alive, and no respawn.
    assert sorted(worker_pids(server)) == before and all(alive(pid) for pid in before)
    assert "Unexpected exit" not in server.output()
    print(
        f"concurrency: {len(outcomes)} requests from {CLIENTS} clients in {elapsed:.1f} s "
        f"({len(outcomes) / elapsed:.0f}/s), {statuses[200]} tokens decoded, {statuses[429]} "
        f"refused (429), {len(asked)} identities, {saturated} at their limit of {LIMIT}, "
        f"workers {before} alive"
    )
