"""The pooled CSPRNG never hands out the same bytes twice: across calls, threads and fork."""

from __future__ import annotations

import os
import threading

from zego_token.randomness import nonce_and_iv, random_bytes


def test_slices_never_repeat_across_block_refills() -> None:
    seen = {random_bytes(16) for _ in range(2000)}  # ~8 blocks of 4 KiB
    assert len(seen) == 2000


def test_nonce_range_and_iv_size() -> None:
    nonces = set()
    for _ in range(500):
        nonce, iv = nonce_and_iv(12)
        assert -(2**31) <= nonce < 2**31 and len(iv) == 12
        nonces.add(nonce)
    assert len(nonces) > 490


def test_threads_never_share_a_slice() -> None:
    results: list[list[bytes]] = [[] for _ in range(8)]

    def draw(out: list[bytes]) -> None:
        for _ in range(1000):
            out.append(random_bytes(16))

    threads = [threading.Thread(target=draw, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [value for out in results for value in out]
    assert len(set(everything)) == len(everything) == 8000


def test_a_forked_child_does_not_repeat_its_parents_bytes() -> None:
    random_bytes(16)  # the parent's pool now holds a block the child must not reuse
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next bytes and leave without pytest's clean-up
        os.close(read_end)
        os.write(write_end, random_bytes(16))
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 16)
    os.close(read_end)
    os.waitpid(pid, 0)
    parent = random_bytes(16)
    assert len(child) == 16 and child != parent
