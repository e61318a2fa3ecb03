"""Nonces and IVs, from the operating system's CSPRNG, drawn in blocks.

One ``os.urandom`` read of 128 draws at a time, cut into (nonce, IV) pairs handed out through
``struct``'s C iterator: ~0.3 us per token instead of ~0.65 us for a read per token (a
``getrandom`` syscall plus the slicing; bench/bench_library.py's step table). An earlier pool
that sliced a buffer under a lock was no faster than the direct read; this one needs no lock as
``next()`` on that iterator is one atomic step under the GIL, so two threads never get the
same pair (GCM nonces must never repeat under one key). Where that does not hold (a
free-threaded build) every call reads ``os.urandom`` directly. A forked child drops the parent's
unused draws, which the parent still hands out. ``random`` is never used: it can be predicted.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterator

_DRAWS_PER_READ = 128
# iv size -> the current block's iterator. ``next(DRAWS[size])`` is a draw without a Python call
# (token04's hot path); on KeyError or StopIteration call ``nonce_and_iv``, which refills it, or
# on a free-threaded build never fills it and reads os.urandom each time.
DRAWS: dict[int, Iterator[tuple[int, bytes]]] = {}
# sys._is_gil_enabled exists from 3.13; before that the GIL is always there.
_POOLED = getattr(sys, "_is_gil_enabled", lambda: True)()


def nonce_and_iv(iv_size: int) -> tuple[int, bytes]:
    """A random signed 32-bit nonce and a random IV of ``iv_size`` bytes, never handed out twice."""
    if _POOLED:
        try:
            return next(DRAWS[iv_size])
        except (KeyError, StopIteration):
            pass
        return next(_refill(iv_size))
    raw = os.urandom(4 + iv_size)
    return int.from_bytes(raw[:4], "big", signed=True), raw[4:]


def _refill(iv_size: int) -> Iterator[tuple[int, bytes]]:
    # Two threads refilling at once each get a fresh iterator; draws left in the one replaced
    # are never handed out, so nothing repeats. struct cuts the block into (signed 32-bit
    # nonce, IV) pairs in C, one pair per next(): a third of the per-token cost of slicing and
    # int.from_bytes in Python.
    layout = struct.Struct(f">i{iv_size}s")
    draws = layout.iter_unpack(os.urandom(layout.size * _DRAWS_PER_READ))
    DRAWS[iv_size] = draws
    return draws


def _forget_draws() -> None:
    DRAWS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_draws)
