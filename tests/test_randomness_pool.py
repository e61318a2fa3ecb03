"""The pooled nonces and IVs never repeat: not across threads, not across a fork."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable

import pytest

from zego_token import generate_token04
from zego_token.randomness import nonce_and_iv

SECRET = "0123456789abcdef0123456789abcdef"


def drawn_in_threads(draw: Callable[[], bytes], each: int, threads: int = 4) -> list[bytes]:
    """``each`` draws in each of ``threads`` threads at once (crossing many refills)."""
    drawn: list[list[bytes]] = [[] for _ in range(threads)]
    workers = [
        threading.Thread(target=lambda into=into: into.extend(draw() for _ in range(each)))
        for into in drawn
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [iv for into in drawn for iv in into]


def test_threads_never_share_a_draw() -> None:
    ivs = drawn_in_threads(lambda: nonce_and_iv(12)[1], 3000)
    assert len(ivs) == 12000 and len(set(ivs)) == 12000


def test_tokens_minted_by_threads_never_share_a_nonce() -> None:
    """The token path draws from the pool's iterator itself (token04._seal), not through
    nonce_and_iv: the same guarantee, through the public function."""

    def iv_of_a_token() -> bytes:
        body = base64.b64decode(generate_token04(1, "u", SECRET, 60)[2:])
        return body[10:22]  # after expire (8 bytes) and the IV length (2)

    ivs = drawn_in_threads(iv_of_a_token, 1500)
    assert len(ivs) == 6000 and len(set(ivs)) == 6000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_the_parents_pending_draws() -> None:
    nonce_and_iv(12)  # the parent now holds a block of unused draws
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write_end, b"".join(nonce_and_iv(12)[1] for _ in range(8)))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = b"".join(nonce_and_iv(12)[1] for _ in range(8))
    assert len(child) == 96
    assert {child[i : i + 12] for i in range(0, 96, 12)}.isdisjoint(
        {parent[i : i + 12] for i in range(0, 96, 12)}
    )
