"""The uvloop-stall reproduction (docs/benchmarks.md, "uvloop: the stall is not reproduced"):
an RSGI app that awaits one Redis INCR per request, and a load of many httpx clients that
connect at once, sharing one SSL context so that the client's own start-up is not measured.

    redis-server --port 6391 --save '' &
    REDIS_URL=redis://127.0.0.1:6391 granian --interface rsgi --loop uvloop --workers 2 \\
        --runtime-mode st --port 8931 --app-dir bench stall_app:app &
    .venv/bin/python bench/stall_app.py http://127.0.0.1:8931 200 6   # URL, clients, seconds

Run it with ``--loop asyncio`` too and compare the requests per second; without REDIS_URL the
app awaits ``asyncio.sleep(0)`` instead.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import time
from typing import Any

import httpx
import redis.asyncio as redis

URL = os.environ.get("REDIS_URL", "")
_client: Any = None


async def app(scope: Any, proto: Any) -> None:
    global _client
    if URL:
        _client = _client or redis.Redis.from_url(URL)
        await _client.incr("stall")
    else:
        await asyncio.sleep(0)
    proto.response_bytes(200, [("content-type", "text/plain")], b"ok")


async def load(base: str, clients: int, seconds: float) -> int:
    # One SSL context for all: each new one loads the CA bundle (~23 ms of CPU).
    context = ssl.create_default_context()
    answered = [0]
    deadline = time.monotonic() + seconds

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=20, verify=context) as http:
            while time.monotonic() < deadline:
                await http.get("/")
                answered[0] += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return answered[0]


if __name__ == "__main__":
    started = time.monotonic()
    count = asyncio.run(load(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
    print(f"{count} requests, {count / (time.monotonic() - started):.0f}/s")
