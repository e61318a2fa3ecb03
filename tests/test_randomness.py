"""Nonces and IVs come from the OS CSPRNG: full range, right size, never repeating."""

from __future__ import annotations

from zego_token.randomness import nonce_and_iv


def test_nonce_range_iv_size_and_uniqueness() -> None:
    draws = [nonce_and_iv(12) for _ in range(2000)]
    assert all(-(2**31) <= nonce < 2**31 and len(iv) == 12 for nonce, iv in draws)
    assert len({iv for _, iv in draws}) == 2000
    assert len({nonce for nonce, _ in draws}) > 1990
    assert min(nonce for nonce, _ in draws) < 0 < max(nonce for nonce, _ in draws)
    assert all(len(nonce_and_iv(16)[1]) == 16 for _ in range(10))
