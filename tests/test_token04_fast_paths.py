"""The decoder's fast paths give exactly what its step-by-step checks give.

``_claims`` reads the claims with msgspec into a strictly typed struct and sends everything it
refuses through ``json.loads`` and the checks after it; ``_split`` reads the usual GCM layout
with one unpack and checks canonical base64 from the last character only. Each is compared here
with the slow reference it replaced, on generated and mutated inputs: same value, or same refusal.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from zego_token import generate_token04
from zego_token.errors import ZegoTokenError
from zego_token.token04 import _claims, _claims_from_json, _layout, _read_claims, _split

SECRET = "0123456789abcdef0123456789abcdef"


def outcome(call: Callable[[], object]) -> tuple[str, object]:
    try:
        return "ok", call()
    except ZegoTokenError as error:
        return type(error).__name__, str(error)


_ints = st.one_of(
    st.integers(-(2**31), 2**32),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**32 - 1, 2**32, 2**63 - 1, 10**19, -(10**19)]),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
)
_texts = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20),
    st.sampled_from(['a"b', "a\\b", "\x00", "\x1f\x7f", "\ud800", "é李😀", "\u2028", ""]),
)
_values = st.one_of(_ints, _texts)


@st.composite
def claims_texts(draw: st.DrawFn) -> str:
    keys = ["app_id", "user_id", "nonce", "ctime", "expire", "payload"]
    claims: dict[str, object] = {
        "app_id": draw(st.one_of(st.integers(1, 2**32 - 1), _values)),
        "user_id": draw(st.one_of(_texts, _values)),
        "nonce": draw(st.one_of(st.integers(-(2**31), 2**31 - 1), _values)),
        "ctime": draw(st.one_of(st.integers(0, 2**40), _values)),
        "expire": draw(st.one_of(st.integers(0, 2**40), _values)),
        "payload": draw(st.one_of(_texts, _values)),
    }
    if draw(st.booleans()):
        del claims[draw(st.sampled_from(keys))]
    if draw(st.booleans()):
        claims[draw(st.sampled_from(["x", "mode", "app_id\u0000"]))] = draw(_values)
    if draw(st.booleans()):
        claims = dict(draw(st.permutations(list(claims.items()))))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ": ")]))
    text = json.dumps(claims, separators=separators, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        # A repeated key: json.loads keeps the last one, and so must the fast path.
        key = draw(st.sampled_from(keys))
        text = text[:-1] + f', "{key}": {json.dumps(draw(_values))}' + "}"
    if draw(st.booleans()) and text:
        # A mutation: one character replaced, dropped or doubled.
        at = draw(st.integers(0, len(text) - 1))
        new = draw(st.sampled_from(['"', "\\", "}", "0", "-", " ", "\x01", "a", "\\u", ""]))
        text = text[:at] + new + text[at + draw(st.integers(0, 1)) :]
    return text


@settings(max_examples=3000, deadline=None)
@given(claims_texts())
@example('{"app_id":1,"user_id":"a\\"b","nonce":1,"ctime":1,"expire":1,"payload":"\\ud800"}')
@example('{"app_id":1,"user_id":"a\\qb","nonce":1,"ctime":1,"expire":1,"payload":""}')
@example('{"app_id":01,"user_id":"a","nonce":1,"ctime":1,"expire":1,"payload":""}')
@example('{"app_id":1,"user_id":"a","nonce":-0,"ctime":1,"expire":1,"payload":""}')
@example('{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1,"payload":"","x":1}')
@example(
    '{"app_id":99999999999999999999,"user_id":"a","nonce":1,"ctime":1,"expire":1,"payload":""}'
)
@example('{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":' + "9" * 5000 + "}")
@example('{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":9223372036854775808}')
@example('{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1,"x":' + "9" * 5000 + "}")
@example(
    '{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1,"x":' + "[" * 5000 + "]" * 5000 + "}"
)
@example('{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1,"x":NaN}')
@example('{"app_id":1,"app_id":2,"user_id":"a","nonce":1,"ctime":1,"expire":1}')
@example('{"app\\u005fid":1,"user_id":"a","nonce":1,"ctime":1,"expire":1,"app_id":3}')
@example('{"app_id":true,"user_id":"a","nonce":1,"ctime":1,"expire":1}')
@example('{"app_id":1,"user_id":"a","nonce":1.0,"ctime":1,"expire":1}')
@example('{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1,"payload":null}')
@example('{"app_id":1,"user_id":"\\udc00","nonce":1,"ctime":1,"expire":1}')
@example(' {"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1}\n')
@example('\ufeff{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1}')
def test_claims_fast_path_equals_json_loads(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    fast = outcome(lambda: _claims(raw, "gcm"))
    try:
        reference_text = raw.decode("utf-8")
    except UnicodeDecodeError:
        assert fast[0] == "DecryptionFailed"
        return
    assert fast == outcome(lambda: _claims_from_json(reference_text, "gcm"))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1,"payload":"\xff"}',
        b'{"app_id":1,"user_id":"a\xed\xa0\x80","nonce":1,"ctime":1,"expire":1}',
        b'{"app_id":1,"user_id":"a\xc0\xaf","nonce":1,"ctime":1,"expire":1}',
        b'{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":1,"\xff":1}',
    ],
)
def test_invalid_utf8_is_unreadable_on_both_paths(raw: bytes) -> None:
    assert outcome(lambda: _claims(raw, "gcm"))[0] == "DecryptionFailed"


def test_the_official_layout_takes_the_fast_path() -> None:
    # Otherwise the property above would only ever compare json.loads with itself.
    for payload in ("", '{"room_id": "r", "privilege": {"1": 1, "2": 0}, "stream_id_list": null}'):
        text = json.dumps(
            {
                "app_id": 1,
                "user_id": "zoë",
                "nonce": -3,
                "ctime": 5,
                "expire": 6,
                "payload": payload,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        read = _read_claims(text.encode())
        assert (read.app_id, read.user_id, read.payload) == (1, "zoë", payload)


def _b64(body: bytes) -> str:
    return base64.b64encode(body).decode("ascii")


@settings(max_examples=400, deadline=None)
@given(
    st.binary(max_size=40),
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
)
def test_canonical_base64_check_equals_reencoding(body: bytes, last: str) -> None:
    encoded = _b64(body)
    data_end = len(encoded.rstrip("="))
    if data_end == 0:
        return
    edited = encoded[: data_end - 1] + last + encoded[data_end:]
    canonical = _b64(base64.b64decode(edited)) == edited
    _, message = outcome(lambda: _split("04" + edited))
    assert ("canonical form" in str(message)) == (not canonical)


def test_extra_padding_is_not_canonical() -> None:
    token = generate_token04(1, "u", SECRET, 60)
    for padded in (token + "=", token + "=="):
        kind, message = outcome(lambda: _split(padded))  # noqa: B023 - called at once
        assert kind == "MalformedToken", message


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(["gcm", "cbc"]),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=3),
    st.integers(-3, 3),
)
def test_layout_fast_path_equals_every_check(
    mode: str, edits: list[tuple[int, int]], cut: int
) -> None:
    token = generate_token04(1, "u", SECRET, 60, mode=mode)  # type: ignore[arg-type]
    body = bytearray(base64.b64decode(token[2:]))
    for at, value in edits:
        body[at % len(body)] = value
    body = body[: len(body) + cut] if cut < 0 else body + bytes(cut)
    assert outcome(lambda: _split("04" + _b64(bytes(body)))) == outcome(
        lambda: _layout(bytes(body))
    )
