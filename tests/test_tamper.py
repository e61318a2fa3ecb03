"""Tampering: every bit flip and every truncation of a GCM token is refused; CBC's limits shown.

CBC has no integrity check. The decoder still catches most damage (padding, JSON, types, the
header expiry), but a flip in the IV changes the first plaintext block predictably, so a CBC
token's first claims can be edited by someone without the secret. That is why ZEGO deprecated
CBC; the last test proves the weakness instead of hiding it.
"""

from __future__ import annotations

import base64

import pytest

from zego_token import InvalidToken, decode_token04, encode_token04, privilege_payload

SECRET = "0123456789abcdef0123456789abcdef"
NOW = 1_800_000_000


def _token(mode: str) -> str:
    return encode_token04(
        app_id=1234567890,
        user_id="alice",
        secret=SECRET,
        ctime=NOW,
        expire=NOW + 3600,
        nonce=42,
        payload=privilege_payload("room-1", publish=True),
        mode=mode,  # type: ignore[arg-type]
    )


def _rejected(token: str) -> bool:
    try:
        decode_token04(token, SECRET, now=NOW)
    except InvalidToken:
        return True
    return False


def test_every_bit_flip_of_a_gcm_body_is_refused() -> None:
    body = base64.b64decode(_token("gcm")[2:])
    flips = 0
    for index in range(len(body)):
        for bit in range(8):
            changed = bytearray(body)
            changed[index] ^= 1 << bit
            assert _rejected("04" + base64.b64encode(changed).decode()), (index, bit)
            flips += 1
    assert flips == len(body) * 8 > 1500


def test_every_character_change_of_a_gcm_token_is_refused() -> None:
    token = _token("gcm")
    for index in range(len(token)):
        for bit in range(7):
            changed = chr(ord(token[index]) ^ (1 << bit))
            assert _rejected(token[:index] + changed + token[index + 1 :]), (index, bit)


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
def test_every_truncation_is_refused(mode: str) -> None:
    token = _token(mode)
    for length in range(len(token)):
        assert _rejected(token[:length]), length
    body = base64.b64decode(token[2:])
    for length in range(len(body)):
        assert _rejected("04" + base64.b64encode(body[:length]).decode()), length


def test_cbc_catches_most_ciphertext_flips_but_not_all() -> None:
    body = base64.b64decode(_token("cbc")[2:])
    ciphertext_start = 8 + 2 + 16 + 2
    caught = total = 0
    for index in range(ciphertext_start, len(body)):
        for bit in range(8):
            changed = bytearray(body)
            changed[index] ^= 1 << bit
            total += 1
            caught += _rejected("04" + base64.b64encode(changed).decode())
    # A flipped ciphertext block decrypts to noise, which breaks the JSON almost always.
    assert caught / total > 0.95


def test_cbc_iv_flip_edits_the_app_id_undetected() -> None:
    body = bytearray(base64.b64decode(_token("cbc")[2:]))
    iv_start = 8 + 2
    # Plaintext block 0 is '{"app_id":123456'; byte 10 is the digit '1'. XOR-ing the IV byte
    # with ord('1') ^ ord('2') turns it into '2' after decryption.
    body[iv_start + 10] ^= ord("1") ^ ord("2")
    edited = decode_token04("04" + base64.b64encode(body).decode(), SECRET, now=NOW)
    assert edited.app_id == 2234567890 and edited.mode == "cbc"
