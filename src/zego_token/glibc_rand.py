"""glibc's ``rand()``, reproduced: what ZEGO's C++ generator draws after ``srand(time(0))``.

glibc's default generator (TYPE_3) is an additive lagged-Fibonacci generator over 31 words:
the words are seeded by the Park-Miller LCG (``16807 * x mod (2**31 - 1)``), the first 310
outputs are discarded, and each output is ``r[i] = r[i-3] + r[i-31]`` (mod 2**32) shifted right
by one bit. Knowing the seed (a token's own ``ctime``) gives every value it will return, which
is how a C++ token is recognised and why its nonce is predictable.
"""

from __future__ import annotations

from functools import lru_cache

_WORDS = 31
_DISCARDED = 310
_LCG_MODULUS = 2147483647

BASE36 = b"0123456789abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=256)
def glibc_rand(seed: int, count: int) -> tuple[int, ...]:
    """The first ``count`` values of ``rand()`` after ``srand(seed)`` (``seed`` as unsigned int)."""
    seed &= 0xFFFFFFFF
    if seed == 0:
        seed = 1  # glibc's own rule: a zero seed would leave the LCG stuck at zero
    # srandom_r keeps the seed in a signed 32-bit word and divides with C's truncation.
    word = seed - (1 << 32) if seed >= 1 << 31 else seed
    r = [word]
    for _ in range(1, _WORDS):
        hi = abs(word) // 127773 * (1 if word >= 0 else -1)
        lo = word - hi * 127773
        word = 16807 * lo - 2836 * hi  # Schrage's method: 16807 * word mod (2**31 - 1)
        if word < 0:
            word += _LCG_MODULUS
        r.append(word)
    r += r[:3]
    total = _WORDS + 3 + _DISCARDED + count
    for i in range(_WORDS + 3, total):
        r.append((r[i - 31] + r[i - 3]) & 0xFFFFFFFF)
    return tuple(x >> 1 for x in r[total - count :])


def cpp_nonce_and_iv(seed: int, iv_length: int) -> tuple[int, bytes]:
    """What ZEGO's C++ generator mints within second ``seed``: its integer nonce (the first
    ``rand()``) and its nonce or IV (``iv_length`` characters ``[0-9a-z][rand() % 36]``,
    after seeding again with the same second)."""
    values = glibc_rand(seed, iv_length)
    return values[0], bytes(BASE36[v % 36] for v in values)
