"""Resident memory of the in-memory rate limiter holding N distinct keys (default 1,000,000).

    python bench/limiter_memory.py [N]

Each key is a per-IP key of a distinct IPv6 /64, as a flood through a proxy would make them.
Prints the RSS before and after, and per key; docs/security.md quotes the result.
"""

from __future__ import annotations

import asyncio
import gc
import sys

from zego_token.pipeline.ratelimit import MemoryRateLimiter


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


async def fill(limiter: MemoryRateLimiter, count: int) -> None:
    for n in range(count):
        await limiter.hit(f"ip:2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::/64", 5, 60)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    limiter = MemoryRateLimiter(max_keys=count)
    gc.collect()
    before = rss_kib()
    asyncio.run(fill(limiter, count))
    gc.collect()
    after = rss_kib()
    grown = (after - before) / 1024
    print(
        f"{count} keys: RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB "
        f"(+{grown:.1f} MiB, {(after - before) * 1024 / count:.0f} bytes per key)"
    )


if __name__ == "__main__":
    main()
