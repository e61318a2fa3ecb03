"""A token cut short anywhere is refused as truncated, never blamed on the other mode."""

from __future__ import annotations

import pytest

from tests.conftest import SECRET
from zego_token import MalformedToken, decode_token04, generate_token04, read_header
from zego_token.diagnose import diagnose

APP_ID = 1234567890


def tokens(mode: str) -> list[str]:
    # Payload lengths 0..2 mod 3 so every base64 padding case (and so every byte that a cut
    # of whole base64 groups can leave last) occurs.
    return [
        generate_token04(APP_ID, user_id, SECRET, 3600, mode=mode)  # type: ignore[arg-type]
        for user_id in ("alice", "alice1", "alice12")
    ]


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
def test_every_cut_of_a_token_is_refused_as_truncated_and_never_names_the_other_mode(
    mode: str,
) -> None:
    other = "CBC" if mode == "gcm" else "GCM"
    seen = 0
    for token in tokens(mode):
        for length in range(2, len(token)):
            cut = token[:length]
            for reader in (lambda t: decode_token04(t, SECRET), read_header):
                with pytest.raises(MalformedToken) as raised:
                    reader(cut)
                message = str(raised.value)
                assert "truncated" in message, (length, message)
                assert other not in message and "IV;" not in message, (length, message)
                seen += 1
    assert seen > 500


def token_ending_in_one_byte_group() -> str:
    """A GCM token whose body is 1 mod 3 bytes (its base64 ends in "=="): the nonce's JSON
    length varies, so the user ID's length is varied until one is."""
    for length in range(1, 64):
        token = generate_token04(APP_ID, "u" * length, SECRET, 3600)
        if token.endswith("=="):
            return token
    raise AssertionError("no token ending in '==' among 63 user ID lengths")


def test_a_gcm_token_that_lost_only_its_mode_byte_says_truncated_or_damaged() -> None:
    # Cutting the last base64 group of a token whose body is 1 mod 3 bytes removes exactly the
    # mode byte: what is left reads like a CBC layout with a 12-byte nonce.
    token = token_ending_in_one_byte_group()
    with pytest.raises(MalformedToken, match="truncated or damaged") as raised:
        decode_token04(token[:-4], SECRET)
    assert "mode byte" in str(raised.value)
    assert "CBC" not in str(raised.value)


def test_inspect_names_the_truncation_for_a_cut_gcm_token() -> None:
    token = token_ending_in_one_byte_group()
    diagnosis = diagnose(token[:-4], secret=SECRET)
    error = diagnosis.errors[0]
    assert error.code == "tampered_or_truncated"
    assert "truncated or damaged" in error.message and "CBC" not in error.message
