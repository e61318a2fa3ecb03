"""Coverage-guided fuzz targets (atheris): each parser may fail only with its documented errors.

Run one with ``python fuzz/run.py TARGET SECONDS``; ``scripts/fuzz`` runs them all.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable

from zego_token import (
    ZegoTokenError,
    decode_token04,
    generate_token04,
    parse_kit_token,
    parse_privileges,
)

SECRET = "0123456789abcdef0123456789abcdef"
_VALID = generate_token04(1, "seed", SECRET, 3600)


def token_text(data: bytes) -> None:
    """Any text as a token."""
    with contextlib.suppress(ZegoTokenError):
        decode_token04(data.decode("utf-8", "replace"), SECRET)


def token_body(data: bytes) -> None:
    """Any bytes as a token body, so the fuzzer reaches the layout and decryption code."""
    with contextlib.suppress(ZegoTokenError):
        decode_token04("04" + base64.b64encode(data).decode(), SECRET)


def token_mutation(data: bytes) -> None:
    """A real token with bytes of the input XOR-ed in: must never be accepted as changed."""
    body = bytearray(base64.b64decode(_VALID[2:]))
    changed = False
    for index, value in enumerate(data[: len(body)]):
        if value:
            body[index] ^= value
            changed = True
    try:
        decode_token04("04" + base64.b64encode(body).decode(), SECRET)
    except ZegoTokenError:
        return
    if changed:
        raise AssertionError("a modified GCM token was accepted")


def kit_token(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    with contextlib.suppress(ZegoTokenError):
        parse_kit_token(text)
    with contextlib.suppress(ZegoTokenError):
        parse_kit_token("04AAAA#" + base64.b64encode(data).decode())


def privilege_json(data: bytes) -> None:
    with contextlib.suppress(ZegoTokenError):
        parse_privileges(data.decode("utf-8", "replace"))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "token_text": token_text,
    "token_body": token_body,
    "token_mutation": token_mutation,
    "kit_token": kit_token,
    "privilege_json": privilege_json,
}
