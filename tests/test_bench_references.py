"""The library benchmark's baselines are only fair if they do the official generators' work:
the same bytes out for the same inputs, and a decoder that reads what they make."""

from __future__ import annotations

import pytest

from tests.conftest import load_vectors
from tests.test_bench_smoke import load_bench_module

VECTORS = load_vectors("token04-official.json")


def pinned(v: dict[str, object]) -> tuple[int, int, str]:
    return (v["ctime"], v["nonce"], bytes.fromhex(str(v["iv_hex"])).decode("ascii"))  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("mode", "sources"),
    [
        ("cbc", ("official-python-cbc", "official-node-cbc")),
        ("gcm", ("official-python-gcm",)),
    ],
)
def test_official_generator_reproduces_the_vectors_byte_for_byte(
    mode: str, sources: tuple[str, ...]
) -> None:
    reference = load_bench_module("reference_token04")
    generate = reference.official_cbc if mode == "cbc" else reference.official_gcm
    checked = 0
    for v in VECTORS:
        if v["source"] not in sources:
            continue
        info = generate(
            v["app_id"],
            v["user_id"],
            v["secret"],
            v["expire"] - v["ctime"],
            v["payload"],
            pinned(v),
        )
        assert (info.error_code, info.token) == (0, v["token"]), v["source"]
        checked += 1
    assert checked >= 6


def test_official_generators_draw_like_the_officials() -> None:
    from zego_token import decode_token04

    reference = load_bench_module("reference_token04")
    secret = "0123456789abcdef0123456789abcdef"
    cbc = decode_token04(reference.official_cbc(7, "a", secret, 60, "").token, secret)
    gcm = decode_token04(reference.official_gcm(7, "a", secret, 60, "").token, secret)
    assert (cbc.mode, gcm.mode) == ("cbc", "gcm")
    assert 0 <= cbc.nonce < 2**31 and 1 <= gcm.nonce <= 90_000_000
    iv_cbc = load_bench_module("reference_token04")._cbc_iv()
    assert len(iv_cbc) == 16 and set(iv_cbc) <= set("0123456789abcdef")


def test_official_generators_refuse_like_the_officials() -> None:
    reference = load_bench_module("reference_token04")
    secret = "0123456789abcdef0123456789abcdef"
    for generate in (reference.official_cbc, reference.official_gcm):
        assert generate(0, "a", secret, 60, "").error_code == 1
        assert generate(1, "", secret, 60, "").error_code == 3
        assert generate(1, "a", "short", 60, "").error_code == 5
        assert generate(1, "a", secret, 0, "").error_code == 6


def test_plain_decoders_read_the_official_vectors() -> None:
    reference = load_bench_module("reference_token04")
    for v in VECTORS:
        claims = reference.plain_decode(v["token"], v["secret"])
        assert (claims["app_id"], claims["user_id"], claims["payload"]) == (
            v["app_id"],
            v["user_id"],
            v["payload"],
        )
        if v["mode"] == "gcm":
            assert reference.plain_decode_cached(v["token"], v["secret"]) == claims
