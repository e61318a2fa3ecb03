"""The remembered-API-key cache cannot pin memory: it is keyed by the credential, not by the
header, and an oversized header is checked but never remembered. The issue's flood, against a
real server: 1,020 requests with a valid key padded with ~400 KB of spaces inside the header
once grew a worker from 41 to 441 MB, still held a minute later."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.security.conftest import raw_request, rss_kib, status_of, worker_pids
from tests.server.conftest import API_KEY, StartServer, api_key_config

REQUESTS = 1020
PADDING = 400_000


def test_a_padded_header_flood_leaves_the_worker_flat(start_server: StartServer) -> None:
    server = start_server(api_key_config())
    (pid,) = worker_pids(server)
    host = server.removeprefix("http://")

    def ask(index: int) -> int:
        # Every header is distinct (its padding differs) and carries the same valid key.
        authorization = "Bearer " + " " * (PADDING + index) + API_KEY
        request = (
            f"GET /api/token?userID=alice HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            f"Authorization: {authorization}\r\n\r\n"
        ).encode()
        return status_of(raw_request(server, request))

    for index in range(20):  # warm up the allocator, so the baseline is a working process
        assert ask(index) == 200
    before = rss_kib(pid)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(ask, range(REQUESTS)))
    assert set(statuses) == {200}
    time.sleep(1.0)
    after = rss_kib(pid)
    print(f"padded-header flood: worker RSS {before} -> {after} KiB over {REQUESTS} requests")
    assert after - before < 20 * 1024, f"the worker kept {after - before} KiB"
