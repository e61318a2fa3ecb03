"""Rate limits: settings, the client IP behind proxies, and both limiters (Redis for real)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.redis_server import free_port, restartable_redis_server
from zego_token.pipeline.contracts import RateLimiter
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.ratelimit import (
    MemoryRateLimiter,
    RateLimitSettings,
    client_ip,
    networks,
)
from zego_token.pipeline.schema import ConfigError
from zego_token.server.redis_limiter import PROBE_SECONDS, RedisRateLimiter, build_rate_limiter


def redis_limiter(
    url: str, *, timeout: float = 5.0, on_store_failure: str = "refuse", local_share: float = 1.0
) -> RedisRateLimiter:
    # A generous timeout: 300 concurrent hits on a busy 2-core machine must not time out.
    settings = RateLimitSettings.from_mapping(
        {
            "redis_url": url,
            "key_prefix": f"test:{id(url)}:",
            "redis_timeout": timeout,
            "on_store_failure": on_store_failure,
        }
    )
    return RedisRateLimiter(settings, local_share=local_share)


# --- settings ------------------------------------------------------------------------------


def test_defaults_are_off_and_in_memory() -> None:
    settings = RateLimitSettings.from_mapping({})
    assert (settings.per_identity, settings.per_ip, settings.window) == (0, 0, 60)
    assert isinstance(build_rate_limiter(settings), MemoryRateLimiter)


def test_trusted_proxies_are_parsed() -> None:
    settings = RateLimitSettings.from_mapping({"trusted_proxies": ["10.0.0.0/8", "::1"]})
    assert networks("rate_limit.trusted_proxies", settings.trusted_proxies) == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"per_ip": -1}, "rate_limit.per_ip"),
        ({"window": 0}, "rate_limit.window"),
        ({"redis_url": "localhost:6379"}, "rate_limit.redis_url"),
        ({"trusted_proxies": ["10.0.0.0/33"]}, "rate_limit.trusted_proxies"),
        ({"per_identity": "10"}, "rate_limit.per_identity"),
        ({"burst": 5}, "rate_limit.burst"),
    ],
)
def test_bad_settings_name_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RateLimitSettings.from_mapping(data)
    assert caught.value.key == key


# --- client IP -----------------------------------------------------------------------------

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.1/32"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # no trusted proxy in front: the header is the client's own words and is ignored
        ("203.0.113.5", "1.2.3.4", "203.0.113.5"),
        # the load balancer adds the client
        ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
        # a spoofed entry on the left is skipped: the first untrusted hop from the right wins
        ("10.0.0.2", "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        # two trusted proxies in a row
        ("10.0.0.2", "203.0.113.5, 192.0.2.1, 10.1.1.1", "203.0.113.5"),
        # every hop trusted: the leftmost is as close to the client as we can tell
        ("10.0.0.2", "10.0.0.9", "10.0.0.9"),
        # no header behind a proxy: the proxy itself
        ("10.0.0.2", None, "10.0.0.2"),
        # garbage stops the walk at the last proxy we trust
        ("10.0.0.2", "203.0.113.5, not-an-ip", "10.0.0.2"),
        # ports and IPv4-mapped IPv6
        ("::ffff:10.0.0.2", "203.0.113.5:4711", "203.0.113.5"),
        ("10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
    ],
)
def test_client_ip(peer: str, forwarded: str | None, expected: str) -> None:
    headers = {} if forwarded is None else {"x-forwarded-for": forwarded}
    assert client_ip(peer, headers, PROXIES) == expected


def test_client_ip_without_trusted_proxies_is_the_peer() -> None:
    assert client_ip("10.0.0.2", {"x-forwarded-for": "1.2.3.4"}, ()) == "10.0.0.2"


# --- both limiters behave the same ---------------------------------------------------------


async def admitted(limiter: RateLimiter, key: str, limit: int, hits: int) -> int:
    decisions = await asyncio.gather(*(limiter.hit(key, limit, 60) for _ in range(hits)))
    return sum(d.allowed for d in decisions)


def limiters(redis_url: str) -> list[RateLimiter]:
    return [MemoryRateLimiter(), redis_limiter(redis_url)]


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_limit_then_429_decision(kind: str, redis_url: str) -> None:
    async def scenario() -> None:
        limiter = MemoryRateLimiter() if kind == "memory" else redis_limiter(redis_url)
        first = await limiter.hit("ip:1.2.3.4", 3, 60)
        assert (first.allowed, first.limit, first.remaining, first.retry_after) == (True, 3, 2, 0)
        await limiter.hit("ip:1.2.3.4", 3, 60)
        third = await limiter.hit("ip:1.2.3.4", 3, 60)
        assert third.allowed and third.remaining == 0
        fourth = await limiter.hit("ip:1.2.3.4", 3, 60)
        assert not fourth.allowed and 59 <= fourth.retry_after <= 60
        other = await limiter.hit("ip:5.6.7.8", 3, 60)
        assert other.allowed, "keys are counted separately"
        await limiter.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_window_reopens(kind: str, redis_url: str) -> None:
    async def scenario() -> None:
        limiter = MemoryRateLimiter() if kind == "memory" else redis_limiter(redis_url)
        assert (await limiter.hit("id:w", 1, 1)).allowed
        refused = await limiter.hit("id:w", 1, 1)
        assert not refused.allowed and refused.retry_after == 1
        await asyncio.sleep(1.05)
        assert (await limiter.hit("id:w", 1, 1)).allowed
        await limiter.close()

    asyncio.run(scenario())


def test_redis_counts_atomically_across_clients(redis_url: str) -> None:
    """Two independent clients (as two workers would be) racing: exactly ``limit`` admitted."""

    async def scenario() -> int:
        a, b = redis_limiter(redis_url), redis_limiter(redis_url)
        counts = await asyncio.gather(
            admitted(a, "id:race", 50, 150), admitted(b, "id:race", 50, 150)
        )
        await a.close()
        await b.close()
        return sum(counts)

    assert asyncio.run(scenario()) == 50


def test_a_lost_window_keeps_the_hits_of_a_process_that_died_before_the_loss(
    redis_url: str,
) -> None:
    """Three processes take turns counting 50 hits each on one key (limit 200); one of them
    dies, then Redis loses everything (FLUSHALL, as a restart without persistence). The two left
    put back their own hits and the dead one's as they last saw them: about 50 more are
    admitted (without the dead one's: 100)."""

    async def scenario() -> int:
        import redis.asyncio as redis_asyncio

        a, b, dead = (redis_limiter(redis_url) for _ in range(3))
        for _ in range(50):
            for limiter in (a, b, dead):
                assert (await limiter.hit("id:lost", 200, 60)).allowed
        await dead.close()
        client = redis_asyncio.Redis.from_url(redis_url)
        await client.flushall()
        await client.aclose()
        counts = await asyncio.gather(
            admitted(a, "id:lost", 200, 100), admitted(b, "id:lost", 200, 100)
        )
        await a.close()
        await b.close()
        return sum(counts)

    # what the two saw last was 148 and 149 of the 150: one hit of slack each
    assert 50 <= asyncio.run(scenario()) <= 52


@pytest.mark.parametrize("b_lost", [2, 0])
def test_a_window_that_lost_only_its_last_writes_counts_the_others_as_last_seen(
    redis_url: str, b_lost: int
) -> None:
    """A failover to a replica that lagged: the window is still there but lacks the last hits
    of A (3) and perhaps of B. Two processes took turns to 8 hits each (limit 20). B comes
    back first: it puts back its own, if any were lost, and counts A's as it last saw them, so
    only the 4 left of the limit are admitted, not 7 more (the window's total without A's 3
    lost hits, until A puts them back)."""

    async def scenario() -> tuple[int, int]:
        import redis.asyncio as redis_asyncio

        a, b = redis_limiter(redis_url), redis_limiter(redis_url)
        key = f"id:lagged:{b_lost}"
        for _ in range(8):
            for limiter in (a, b):
                assert (await limiter.hit(key, 20, 60)).allowed
        client = redis_asyncio.Redis.from_url(redis_url)
        replica = {a._field: 5, b._field: 8 - b_lost}  # what the promoted replica had
        await client.hset(a._prefix + key, mapping=replica)
        await client.aclose()
        after_b = await admitted_in_turn(b, key, 20, 10)
        after_a = await admitted_in_turn(a, key, 20, 10)
        last = await b.hit(key, 20, 60)
        await a.close()
        await b.close()
        return after_b + after_a, last.remaining

    admitted_after_loss, remaining = asyncio.run(scenario())
    assert admitted_after_loss == 4  # 16 admitted before the loss, limit 20
    assert remaining == 0


async def admitted_in_turn(limiter: RateLimiter, key: str, limit: int, hits: int) -> int:
    """Hits one after another (each sees the last one's answer), the count admitted."""
    return sum([(await limiter.hit(key, limit, 60)).allowed for _ in range(hits)])


def test_redis_counts_two_keys_in_one_call_up_to_the_first_refusal(redis_url: str) -> None:
    """``hit_both`` (the client IP, then the identity): a request the first key refuses is not
    counted on the second, as when each was asked on its own."""

    async def scenario() -> tuple[list[tuple[bool, int]], int]:
        limiter = redis_limiter(redis_url)
        both = [await limiter.hit_both("ip:both", 2, "id:both", 10, 60) for _ in range(4)]
        second = await limiter.hit("id:both", 10, 60)
        await limiter.close()
        return [(d.allowed, d.limit) for d in both], second.remaining

    decisions, remaining = asyncio.run(scenario())
    assert decisions == [(True, 10), (True, 10), (False, 2), (False, 2)]
    assert remaining == 7  # two counted by hit_both, this one: 3 of 10


def test_a_lost_window_is_put_back_for_both_keys_of_one_call(redis_url: str) -> None:
    async def scenario() -> tuple[int, int]:
        import redis.asyncio as redis_asyncio

        limiter = redis_limiter(redis_url)
        for _ in range(5):
            assert (await limiter.hit_both("ip:lost2", 100, "id:lost2", 100, 60)).allowed
        client = redis_asyncio.Redis.from_url(redis_url)
        await client.flushall()
        await client.aclose()
        await limiter.hit_both("ip:lost2", 100, "id:lost2", 100, 60)
        ip = await limiter.hit("ip:lost2", 100, 60)
        identity = await limiter.hit("id:lost2", 100, 60)
        await limiter.close()
        return ip.remaining, identity.remaining

    assert asyncio.run(scenario()) == (93, 93)  # 7 of 100 each: nothing forgotten


def test_concurrent_calls_share_one_pipeline(redis_url: str) -> None:
    """Calls made in one turn of the event loop reach Redis together: 100 concurrent requests
    cost Redis a handful of socket reads, not 100, and each still gets its own count."""

    async def scenario() -> tuple[list[int], int, int]:
        import redis.asyncio as redis_asyncio

        limiter = redis_limiter(redis_url)
        await limiter.hit("id:warm", 1000, 60)  # the connection is open, the script loaded
        client = redis_asyncio.Redis.from_url(redis_url)
        before = (await client.info("stats"))["total_reads_processed"]
        calls = (await client.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
        decisions = await asyncio.gather(
            *(limiter.hit_both(f"ip:p{n % 10}", 1000, "id:pipelined", 1000, 60) for n in range(100))
        )
        reads = (await client.info("stats"))["total_reads_processed"] - before - 2
        calls = (await client.info("commandstats"))["cmdstat_evalsha"]["calls"] - calls
        await client.aclose()
        await limiter.close()
        return sorted(d.remaining for d in decisions), reads, calls

    remaining, reads, calls = asyncio.run(scenario())
    assert remaining == list(range(900, 1000))  # the identity's 100 hits, each counted once
    assert calls == 100
    assert reads <= 5, reads  # one pipeline (two INFO reads of this test's own left out)


def test_a_script_redis_forgot_is_loaded_again_without_counting_twice(redis_url: str) -> None:
    async def scenario() -> list[int]:
        import redis.asyncio as redis_asyncio

        limiter = redis_limiter(redis_url)
        for _ in range(3):
            await limiter.hit("id:flushed", 100, 60)
        client = redis_asyncio.Redis.from_url(redis_url)
        await client.script_flush()  # as a restarted Redis that kept its data would be
        await client.aclose()
        decisions = await asyncio.gather(*(limiter.hit("id:flushed", 100, 60) for _ in range(5)))
        await limiter.close()
        return sorted(d.remaining for d in decisions)

    assert asyncio.run(scenario()) == [92, 93, 94, 95, 96]  # hits 4 to 8, once each


def test_a_hung_redis_fails_a_batch_within_redis_timeout(tmp_path: Path) -> None:
    """Redis stopped (SIGSTOP: connections open, nothing answered): a batch's calls fail with
    redis-py's TimeoutError after ``redis_timeout`` and are decided in memory (``local``)."""

    async def scenario(url: str, pid: int) -> tuple[list[bool], float, str | None]:
        limiter = redis_limiter(url, timeout=0.3, on_store_failure="local")
        assert (await limiter.hit_both("ip:hung", 10, "id:hung", 10, 60)).allowed
        os.kill(pid, signal.SIGSTOP)
        try:
            began = time.monotonic()
            decisions = await asyncio.gather(
                *(limiter.hit_both("ip:hung", 10, "id:hung", 10, 60) for _ in range(5))
            )
            elapsed = time.monotonic() - began
        finally:
            os.kill(pid, signal.SIGCONT)
        degraded = limiter.degraded()
        await limiter.close()
        return [d.allowed for d in decisions], elapsed, degraded

    with restartable_redis_server(tmp_path) as redis:
        pid = redis._process.pid  # type: ignore[union-attr]  # the fixture's own process
        allowed, elapsed, degraded = asyncio.run(scenario(redis.url, pid))
    assert allowed == [True] * 5
    assert elapsed < 1.5, elapsed
    assert degraded is not None and "TimeoutError" in degraded


def test_two_keys_decided_in_memory_while_redis_is_unreachable() -> None:
    async def scenario() -> list[tuple[bool, int]]:
        limiter = redis_limiter(
            f"redis://127.0.0.1:{free_port()}/0", timeout=0.3, on_store_failure="local"
        )
        both = [await limiter.hit_both("ip:x", 2, "id:x", 10, 60) for _ in range(3)]
        await limiter.close()
        return [(d.allowed, d.limit) for d in both]

    assert asyncio.run(scenario()) == [(True, 10), (True, 10), (False, 2)]


def test_redis_unreachable_fails_closed() -> None:
    async def scenario() -> None:
        limiter = redis_limiter(f"redis://127.0.0.1:{free_port()}/0", timeout=0.3)
        assert not await limiter.ready()
        with pytest.raises(HttpError) as caught:
            await limiter.hit("ip:1.2.3.4", 10, 60)
        assert (caught.value.status, caught.value.code) == (503, "rate_limit_unavailable")
        assert caught.value.headers["Retry-After"] == "1"
        await limiter.close()

    asyncio.run(scenario())


def test_redis_unreachable_counts_this_process_share_in_memory() -> None:
    """on_store_failure = "local": while Redis cannot be reached the process admits its share
    of the limit (here a half: floor(10 * 0.5) = 5), then 429, and says it runs degraded."""
    events: list[str] = []

    async def scenario() -> list[bool]:
        settings = RateLimitSettings.from_mapping(
            {"redis_url": f"redis://127.0.0.1:{free_port()}/0", "redis_timeout": 0.3}
        )
        limiter = RedisRateLimiter(settings, local_share=0.5, on_event=events.append)
        try:
            assert await limiter.ready()  # it can still decide
            decisions = [await limiter.hit("id:alice", 10, 60) for _ in range(8)]
            assert "unreachable" in (limiter.degraded() or "")
            return [d.allowed for d in decisions]
        finally:
            await limiter.close()

    assert asyncio.run(scenario()) == [True] * 5 + [False] * 3
    assert events.count("local") == 8


def test_in_memory_shares_never_add_up_to_more_than_the_limit(tmp_path: Path) -> None:
    """Two processes, one busier (40 of 45 hits before Redis went away, limit 60, a half each):
    the quiet one may take its half of what the last answer left of the window (7 of 15), not
    its whole half (25) nor all that was left (the busy one's hits after that answer are
    unknown to it), and the busy one, already past its half, nothing."""

    async def scenario(url: str, stop: Callable[[], None]) -> int:
        busy, quiet = (
            redis_limiter(url, timeout=0.3, on_store_failure="local", local_share=0.5)
            for _ in range(2)
        )
        for _ in range(40):
            assert (await busy.hit("id:share", 60, 60)).allowed
        for _ in range(5):
            assert (await quiet.hit("id:share", 60, 60)).allowed
        stop()
        during = 0
        for limiter in (busy, quiet):
            during += sum([(await limiter.hit("id:share", 60, 60)).allowed for _ in range(30)])
        await busy.close()
        await quiet.close()
        return during

    with restartable_redis_server(tmp_path) as redis:
        assert asyncio.run(scenario(redis.url, redis.kill)) == 7


def test_in_memory_shares_are_rounded_down_so_they_add_up_to_the_limit_at_most() -> None:
    """Limit 61, a half each: 30 and 30 (rounded up, 31 and 31 would be 62)."""

    async def scenario() -> int:
        url = f"redis://127.0.0.1:{free_port()}/0"
        processes = [
            redis_limiter(url, timeout=0.3, on_store_failure="local", local_share=0.5)
            for _ in range(2)
        ]
        admitted = 0
        for limiter in processes:
            admitted += sum([(await limiter.hit("id:odd", 61, 60)).allowed for _ in range(40)])
            await limiter.close()
        return admitted

    assert asyncio.run(scenario()) == 60


async def _shares_counted_in_memory(redis: Any) -> tuple[RedisRateLimiter, RedisRateLimiter]:
    """Two processes, limit 40, a half each: the window opens in Redis, Redis dies (and comes
    back empty later), and each process admits its 20 in memory meanwhile."""
    busy, quiet = (
        redis_limiter(redis.url, timeout=0.3, on_store_failure="local", local_share=0.5)
        for _ in range(2)
    )
    assert (await busy.hit("id:back", 40, 600)).allowed
    redis.kill()
    for limiter, hits in ((busy, 19), (quiet, 20)):
        for _ in range(hits):
            assert (await limiter.hit("id:back", 40, 600)).allowed
    assert not (await quiet.hit("id:back", 40, 600)).allowed  # its half is used up
    return busy, quiet


def test_a_process_that_saw_the_store_fail_keeps_to_its_share_in_the_windows_open_then(
    tmp_path: Path,
) -> None:
    """Limit 20, a half each. Redis hangs; process a learns it from a request on another key
    and decides nothing in memory on this one; process b admits in memory its half of what the
    total it last saw leaves (2 of 4) and dies before it can put them back. Redis answers
    again: its total (16) lacks b's 2, and a, over its share (12 of 10) since before the
    outage, keeps to it: 18 admitted in all, where a deciding on Redis's total would admit 4
    more (22)."""

    async def scenario(url: str, pid: int) -> tuple[int, int]:
        a, b = (
            redis_limiter(url, timeout=0.3, on_store_failure="local", local_share=0.5)
            for _ in range(2)
        )
        try:
            for limiter, hits in ((a, 12), (b, 4)):
                for _ in range(hits):
                    assert (await limiter.hit("id:held", 20, 600)).allowed
            os.kill(pid, signal.SIGSTOP)
            try:
                assert (await a.hit("id:elsewhere", 20, 600)).allowed  # in memory
                in_memory = await admitted_in_turn(b, "id:held", 20, 10)
                await b.close()  # killed: its hits never reach Redis
            finally:
                os.kill(pid, signal.SIGCONT)
            await asyncio.sleep(4 * PROBE_SECONDS)  # a finds Redis again
            assert a.degraded() is None
            return in_memory, await admitted_in_turn(a, "id:held", 20, 10)
        finally:
            await a.close()
            await b.close()

    with restartable_redis_server(tmp_path) as redis:
        pid = redis._process.pid  # type: ignore[union-attr]  # the fixture's own process
        assert asyncio.run(scenario(redis.url, pid)) == (2, 0)


def test_hits_counted_in_memory_go_back_to_the_store_without_a_request(tmp_path: Path) -> None:
    """Redis comes back; the two processes get no request, a third one (a worker started
    since) gets them all: it finds the 40 admitted in memory in Redis and admits none."""

    async def scenario(redis: Any) -> int:
        busy, quiet = await _shares_counted_in_memory(redis)
        newcomer = redis_limiter(redis.url, on_store_failure="local", local_share=0.5)
        try:
            redis.start()
            await asyncio.sleep(1.0)
            return sum([(await newcomer.hit("id:back", 40, 600)).allowed for _ in range(30)])
        finally:
            for limiter in (busy, quiet, newcomer):
                await limiter.close()

    with restartable_redis_server(tmp_path) as redis:
        assert asyncio.run(scenario(redis)) == 0


def test_a_process_that_counted_in_memory_keeps_to_its_share_until_the_window_closes(
    tmp_path: Path,
) -> None:
    """The quiet process dies before Redis comes back (its 20 never reach Redis); the busy one
    finds only its own 20 there, and still admits none: 40 in the window, not 60."""

    async def scenario(redis: Any) -> int:
        busy, quiet = await _shares_counted_in_memory(redis)
        await quiet.close()
        try:
            redis.start()
            await asyncio.sleep(0.5)  # past the in-memory decisions between two probes
            return sum([(await busy.hit("id:back", 40, 600)).allowed for _ in range(30)])
        finally:
            await busy.close()

    with restartable_redis_server(tmp_path) as redis:
        assert asyncio.run(scenario(redis)) == 0


def test_store_settings_are_checked() -> None:
    bad = [
        ({"on_store_failure": "open"}, "rate_limit.on_store_failure"),
        ({"local_share": 1.5}, "rate_limit.local_share"),
        ({"sentinels": ["no-port"], "sentinel_service": "m"}, "rate_limit.sentinels"),
        ({"sentinels": ["127.0.0.1:26379"]}, "rate_limit.sentinel_service"),
        ({"sentinel_service": "m"}, "rate_limit.sentinels"),
        ({"cluster": True}, "rate_limit.redis_url"),
    ]
    for data, key in bad:
        with pytest.raises(ConfigError) as caught:
            RateLimitSettings.from_mapping(data)
        assert caught.value.key == key, data
    good = RateLimitSettings.from_mapping(
        {"sentinels": ["127.0.0.1:26379", "[::1]:26380"], "sentinel_service": "zego"}
    )
    assert good.on_store_failure == "local"


def test_redis_ready(redis_url: str) -> None:
    async def scenario() -> bool:
        limiter = redis_limiter(redis_url)
        try:
            return await limiter.ready()
        finally:
            await limiter.close()

    assert asyncio.run(scenario())


def test_limiters_helper_builds_both(redis_url: str, tmp_path: Path) -> None:
    built = build_rate_limiter(RateLimitSettings.from_mapping({"redis_url": redis_url}))
    assert isinstance(built, RedisRateLimiter)
    asyncio.run(built.close())
