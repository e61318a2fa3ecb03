"""Token files for the audit tests and for docs/examples/tokens-mixed.txt, built reproducibly."""

from __future__ import annotations

from tests.conftest import load_vectors
from zego_token import kit_token_for_production
from zego_token.glibc_rand import cpp_nonce_and_iv
from zego_token.token04 import encode_token04

# The official vectors' ServerSecret; every token below opens with it.
VECTOR_SECRET = "fa94dd0f974cf2e293728a526b028271"
CPP_SECOND = 1764460800  # the one second in which the three C++-style tokens are minted
NOW = 1764460800


def _by_source() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in ("token04-official.json", "token04-official-decode-only.json"):
        for vector in load_vectors(name):
            found.setdefault(vector["source"], []).append(vector["token"])
    return found


def cpp_gcm_tokens(users: list[str], second: int = CPP_SECOND) -> list[str]:
    """What ZEGO's C++ generator (GCM) mints for ``users`` within one second: one nonce."""
    nonce, iv = cpp_nonce_and_iv(second, 12)
    return [
        encode_token04(
            app_id=1234567890, user_id=user, secret=VECTOR_SECRET, ctime=second,
            expire=second + 3600, nonce=nonce, iv=iv, mode="gcm",
        )
        for user in users
    ]  # fmt: skip


def zego_token_gcm(user: str, iv: bytes, nonce: int) -> str:
    """A token as this project mints it (random nonce bytes), pinned for reproducibility."""
    return encode_token04(
        app_id=1234567890, user_id=user, secret=VECTOR_SECRET, ctime=NOW, expire=NOW + 7200,
        nonce=nonce, iv=iv, mode="gcm",
    )  # fmt: skip


def mixed_lines() -> list[str]:
    """Official tokens, a blank line, junk, three C++-style GCM tokens of one second sharing a
    nonce (lines 7 to 9), two C++ CBC tokens of one second sharing an IV (lines 15 and 16), this
    project's tokens and a kit token."""
    official = _by_source()
    mine = zego_token_gcm("host_42", bytes.fromhex("9f3c1a7e5b2d4c6e8a0f1b3d"), -1198426206)
    kit = kit_token_for_production(1234567890, mine, "room1", "host_42", "Host")
    return [
        official["official-python-cbc"][0],
        official["official-python-gcm"][0],
        "",
        "not a token",
        official["official-go-cbc"][0],
        official["official-java-cbc"][0],
        *cpp_gcm_tokens(["alice", "bob", "carol"]),
        "04garbage",
        official["official-php-cbc"][0],
        official["official-node-cbc"][0],
        zego_token_gcm("guest_7", bytes.fromhex("2b7e151628aed2a6abf71588"), 1500701923),
        kit,
        official["official-cpp-cbc"][0],
        cpp_cbc_token("user1", 1796007594),  # the official C++ token's second, so its IV
    ]


def cpp_cbc_token(user: str, second: int) -> str:
    """What ZEGO's C++ generator (CBC) mints for ``user`` within ``second``."""
    nonce, iv = cpp_nonce_and_iv(second, 16)
    return encode_token04(
        app_id=1, user_id=user, secret=VECTOR_SECRET, ctime=second, expire=second + 3600,
        nonce=nonce, iv=iv, mode="cbc",
    )  # fmt: skip
