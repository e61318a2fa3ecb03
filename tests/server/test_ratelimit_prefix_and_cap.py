"""Per-IP limits count an IPv6 client by its /64, and the in-memory limiter has a ceiling,
over a real server process behind a trusted proxy (127.0.0.1)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.server.conftest import StartServer
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.ratelimit import MemoryRateLimiter, RateLimitSettings, ip_key_function
from zego_token.pipeline.schema import ConfigError

BEHIND_PROXY = '[rate_limit]\nper_ip = 5\nwindow = 60\ntrusted_proxies = ["127.0.0.1/32"]\n'


def statuses(server: str, addresses: list[str]) -> list[int]:
    with httpx.Client(timeout=10) as client:
        return [
            client.get(
                f"{server}/api/token",
                params={"userID": "alice"},
                headers={"X-Forwarded-For": address},
            ).status_code
            for address in addresses
        ]


def test_eight_addresses_of_one_ipv6_64_share_one_bucket(start_server: StartServer) -> None:
    server = start_server(BEHIND_PROXY)
    one_host = [f"2001:db8:1:2::{n:x}" for n in range(1, 9)]
    assert statuses(server, one_host) == [200] * 5 + [429] * 3
    # Other /64s, and IPv4 addresses (one bucket per address), are counted apart.
    other_hosts = [f"2001:db8:1:{n:x}::1" for n in range(3, 11)]
    assert statuses(server, other_hosts) == [200] * 8
    assert statuses(server, [f"198.51.100.{n}" for n in range(1, 9)]) == [200] * 8


def test_the_ipv6_prefix_is_configurable(start_server: StartServer) -> None:
    server = start_server(BEHIND_PROXY + "ipv6_prefix = 128\n")
    assert statuses(server, [f"2001:db8:1:2::{n:x}" for n in range(1, 9)]) == [200] * 8


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "ip:203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "ip:2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "ip:2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "ip:203.0.113.7"),  # an IPv4 client seen through an IPv6 socket
        ("not-an-address", "ip:not-an-address"),
    ],
)
def test_ip_keys(address: str, key: str) -> None:
    assert ip_key_function(64)(address) == key


@pytest.mark.parametrize(("key", "value"), [("ipv6_prefix", 16), ("max_keys", 0)])
def test_bad_new_settings_name_the_key(key: str, value: int) -> None:
    with pytest.raises(ConfigError) as caught:
        RateLimitSettings.from_mapping({key: value})
    assert caught.value.key == f"rate_limit.{key}"


def test_at_the_cap_new_clients_get_503_tracked_ones_are_still_counted(
    start_server: StartServer,
) -> None:
    server = start_server(
        '[rate_limit]\nper_ip = 3\nmax_keys = 3\ntrusted_proxies = ["127.0.0.1/32"]\n'
    )
    # Each tracked client is seen twice: windows hit only once would make room instead.
    assert statuses(server, ["10.0.0.1", "10.0.0.2", "10.0.0.3"] * 2) == [200] * 6
    with httpx.Client(timeout=10) as client:
        began = time.monotonic()
        refused = [
            client.get(
                f"{server}/api/token",
                params={"userID": "alice"},
                headers={"X-Forwarded-For": f"10.0.1.{n}"},
            )
            for n in range(1, 51)
        ]
        seconds = time.monotonic() - began
        assert {r.status_code for r in refused} == {503}
        assert refused[0].json()["error"]["code"] == "rate_limit_unavailable"
        assert int(refused[0].headers["retry-after"]) >= 1
        # A client already tracked keeps its own window, limit included.
        assert statuses(server, ["10.0.0.1"] * 2) == [200, 429]
        metrics = client.get(f"{server}/metrics").text
    assert "zego_rate_limit_full_total 50.0" in metrics
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        full = [r for r in server.records() if r.get("msg", "").startswith("rate limiter full")]
        if full:
            break
        time.sleep(0.05)
    # One line a second at most, not one per refusal; each says how many it held back.
    assert 1 <= len(full) <= seconds + 1, (seconds, full)
    assert len(full) + sum(line["suppressed"] for line in full) <= 50
    assert full[0]["max_keys"] == 3 and full[0]["level"] == "warning"


def test_expired_windows_make_room_first() -> None:
    async def scenario() -> None:
        limiter = MemoryRateLimiter(max_keys=2)
        for key in ("ip:a", "ip:a", "ip:b", "ip:b"):
            await limiter.hit(key, 10, 1)
        with pytest.raises(HttpError) as caught:
            await limiter.hit("ip:c", 10, 1)
        assert caught.value.status == 503
        await asyncio.sleep(1.1)  # "a" and "b" expire; the next sweep may run
        assert (await limiter.hit("ip:c", 10, 1)).allowed
        assert len(limiter.ips.windows) == 1

    asyncio.run(scenario())


def test_windows_hit_once_make_room_before_anyone_is_refused() -> None:
    async def scenario() -> None:
        limiter = MemoryRateLimiter(max_keys=3)
        await limiter.hit("ip:regular", 10, 60)
        await limiter.hit("ip:regular", 10, 60)
        for n in range(1000):  # a flood of one-shot addresses
            assert (await limiter.hit(f"ip:stranger-{n}", 10, 60)).allowed
        assert len(limiter.ips.windows) == 3
        assert "ip:regular" in limiter.ips.windows  # hit twice: never the one evicted
        assert (await limiter.hit("ip:regular", 10, 60)).remaining == 7

    asyncio.run(scenario())


def test_identities_and_addresses_are_kept_apart() -> None:
    async def scenario() -> None:
        limiter = MemoryRateLimiter(max_keys=2)
        for key in ("ip:a", "ip:a", "ip:b", "ip:b"):
            await limiter.hit(key, 10, 60)
        with pytest.raises(HttpError):
            await limiter.hit("ip:c", 10, 60)  # the address table is full of repeat clients
        assert (await limiter.hit("api_key:backend", 10, 60)).allowed  # its own table
        assert len(limiter.identities.windows) == 1

    asyncio.run(scenario())


def test_memory_stays_bounded_under_a_stream_of_distinct_keys() -> None:
    async def scenario() -> int:
        limiter = MemoryRateLimiter(max_keys=1000)
        refused = 0
        for n in range(20_000):
            try:
                # Each key twice, so that none may be evicted: the cap itself is what holds.
                await limiter.hit(f"ip:2001:db8::{n:x}/128", 5, 60)
                await limiter.hit(f"ip:2001:db8::{n:x}/128", 5, 60)
            except HttpError:
                refused += 1
        assert len(limiter.ips.windows) == 1000
        return refused

    assert asyncio.run(scenario()) == 19_000
