"""Strangers cannot fill the rate limiter against callers with a credential: client IPs and
identities are kept in separate tables, one-shot addresses are evicted first at the cap, and a
full address table is never held against a caller who then shows a valid key. A real server
behind a trusted proxy (127.0.0.1), flooded with 5,000 distinct IPv6 /64s in X-Forwarded-For."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.server.conftest import StartServer, api_key_config, bearer

CAP = 100
FLOOD = 5_000
LIMITS = f"""
[auth]
modes = ["api_key"]

[rate_limit]
per_ip = 5
per_identity = 1000
max_keys = {CAP}
trusted_proxies = ["127.0.0.1/32"]
"""


def flood(server: str, count: int, *, repeat: int = 1, first: int = 0) -> set[int]:
    """``count`` strangers, each its own /64 and without a credential, ``repeat`` times each."""

    def send(chunk: range) -> set[int]:
        seen = set()
        with httpx.Client(timeout=10) as client:
            for n in chunk:
                for _ in range(repeat):
                    response = client.get(
                        f"{server}/api/token",
                        params={"userID": "alice"},
                        headers={"X-Forwarded-For": f"2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::1"},
                    )
                    seen.add(response.status_code)
        return seen

    step = count // 4
    chunks = [range(first + i * step, first + (i + 1) * step) for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return set().union(*pool.map(send, chunks))


def keyed_client(server: str, address: str = "198.51.100.7") -> httpx.Response:
    return httpx.get(
        f"{server}/api/token",
        params={"userID": "alice"},
        headers={**bearer(), "X-Forwarded-For": address},
        timeout=10,
    )


def test_after_a_flood_of_one_shot_64s_a_keyed_client_gets_its_token(
    start_server: StartServer,
) -> None:
    server = start_server(api_key_config(LIMITS))
    started = time.monotonic()
    statuses = flood(server, FLOOD)
    seconds = time.monotonic() - started
    assert statuses == {401}  # strangers: no credential; none was refused for a full table
    response = keyed_client(server)
    print(
        f"\n[limiter flood] {FLOOD} one-shot /64s in {seconds:.1f} s against max_keys={CAP}, "
        f"then a keyed client: {response.status_code}"
    )
    assert response.status_code == 200, response.text


def test_an_address_table_full_of_repeat_strangers_never_refuses_a_keyed_client(
    start_server: StartServer,
) -> None:
    server = start_server(api_key_config(LIMITS))
    # Strangers who come back twice are not evicted: the address table stays full. Without a
    # credential each is refused for that (401), the table's refusal held back behind it.
    assert flood(server, CAP * 2, repeat=2) == {401}
    metrics = httpx.get(f"{server}/metrics", timeout=10).text
    assert "zego_rate_limit_full_total 0.0" not in metrics
    assert "zego_rate_limit_full_total" in metrics
    response = keyed_client(server, "198.51.100.8")
    assert response.status_code == 200, response.text
    # A stranger from a new address is refused as before: 401 for the missing credential.
    stranger = httpx.get(
        f"{server}/api/token",
        params={"userID": "alice"},
        headers={"X-Forwarded-For": "2001:db8:ffff:1::1"},
        timeout=10,
    )
    assert stranger.status_code == 401
