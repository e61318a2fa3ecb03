"""Nonces and IVs, straight from the operating system's CSPRNG.

One ``os.urandom`` read per token serves both. A pool that reads 4 KiB at once and hands out
slices under a lock (two callers must never get the same bytes, or GCM nonces repeat) was
measured too and was no faster (~530 ns per call either way, bench/bench_library.py), so the
simpler direct read stays. ``random`` is never used: its output can be predicted.
"""

from __future__ import annotations

import os


def nonce_and_iv(iv_size: int) -> tuple[int, bytes]:
    """A random signed 32-bit nonce and a random IV of ``iv_size`` bytes, in one read."""
    raw = os.urandom(4 + iv_size)
    return int.from_bytes(raw[:4], "big", signed=True), raw[4:]
