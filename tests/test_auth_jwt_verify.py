"""The jwt mode's one-pass verifier gives PyJWT's verdict on every token: same acceptance, same
refusal code, for tokens with any mix of good and bad claims, headers, keys and characters.

The reference is ``jwt.decode`` with the options the mode used before it verified tokens itself,
and that mode's mapping of PyJWT's exceptions to 401 codes. The only intended differences are
stricter: a NumericDate must be a JSON number (PyJWT also takes ``"123"`` and ``true``), and a
``crit`` header is always refused (PyJWT knows ``b64``, which the mode does not support).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.idp import b64url
from zego_token.auth.jwt_mode import JwtAuthenticator, JwtSettings
from zego_token.pipeline.contracts import RequestContext
from zego_token.pipeline.errors import HttpError

ISSUER = "https://id.example.test"
AUDIENCE = "zego-token"
LEEWAY = 30
CONTEXT = RequestContext(client_ip="127.0.0.1", method="GET", path="/api/token", headers={})
SECRET = b"s" * 16 + os.urandom(16)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def authenticator(algorithm: str, tmp: Any) -> JwtAuthenticator:
    values: dict[str, Any] = {"algorithms": [algorithm], "issuer": ISSUER, "audience": [AUDIENCE]}
    if algorithm == "HS256":
        path = tmp / "secret"
        path.write_bytes(SECRET)
        values["secret_file"] = str(path)
    else:
        path = tmp / "public.pem"
        from cryptography.hazmat.primitives import serialization

        path.write_bytes(
            RSA_KEY.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        values["public_key_file"] = str(path)
    values["leeway"] = LEEWAY
    return JwtAuthenticator(JwtSettings.from_mapping(values))


# The mode's mapping of PyJWT's exceptions, most specific first.
PYJWT_CODES: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.InvalidAudienceError, "token_wrong_audience"),
    (jwt.InvalidIssuerError, "token_wrong_issuer"),
    (jwt.MissingRequiredClaimError, "token_missing_claim"),
    (jwt.InvalidSignatureError, "token_bad_signature"),
    (jwt.InvalidAlgorithmError, "token_algorithm_not_allowed"),
    (jwt.InvalidKeyError, "token_bad_signature"),
    (jwt.PyJWTError, "token_malformed"),
]


def pyjwt_verdict(token: str, algorithm: str) -> str:
    """ "ok:<sub>" or the refusal code, as PyJWT decides with the mode's former options."""
    key: Any = SECRET if algorithm == "HS256" else RSA_KEY.public_key()
    try:
        # The mode read the header and claims as base64url JSON objects before PyJWT ran.
        for part in token.split(".")[:2]:
            if not isinstance(json.loads(jwt.utils.base64url_decode(part)), dict):
                return "token_malformed"
    except ValueError:
        return "token_malformed"
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != algorithm:
            return "token_algorithm_not_allowed"
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=[AUDIENCE],
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except Exception as error:
        for kind, code in PYJWT_CODES:
            if isinstance(error, kind):
                return code
        raise
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        return "token_invalid_claim"
    return f"ok:{sub}"


def our_verdict(auth: JwtAuthenticator, token: str) -> str:
    try:
        identity = asyncio.run(auth.authenticate(f"Bearer {token}", CONTEXT))
    except HttpError as error:
        assert error.status == 401
        return error.code
    assert identity is not None, token
    return f"ok:{identity.user_id}"


def encode(header: dict[str, Any], claims: dict[str, Any], sign_with: str) -> str:
    signing_input = (
        f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    ).encode()
    if sign_with == "hs256":
        signature = hmac.new(SECRET, signing_input, hashlib.sha256).digest()
    elif sign_with == "hs256-other":
        signature = hmac.new(b"x" * 32, signing_input, hashlib.sha256).digest()
    elif sign_with == "none":
        signature = b""
    else:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        key = RSA_KEY if sign_with == "rs256" else OTHER_RSA_KEY
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64url(signature)}"


NOW = int(time.time())
TIMES = st.sampled_from(
    [NOW, NOW - 20, NOW - 40, NOW + 20, NOW + 40, NOW + 3600, NOW - 3600, float(NOW) + 0.5]
)
ODD = st.sampled_from([None, "", 0, True, [], {}, "x", 1.5e300, -1, [AUDIENCE, 5]])


def claim(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A claim's value: usually a good one, sometimes odd, sometimes absent (the marker)."""
    return st.one_of(good, good, ODD, st.just("<absent>"))


CLAIMS = st.fixed_dictionaries(
    {
        "iss": claim(st.sampled_from([ISSUER, ISSUER + "/", "https://evil.example"])),
        "aud": claim(st.sampled_from([AUDIENCE, [AUDIENCE, "other"], ["other"], "other"])),
        "sub": claim(st.sampled_from(["alice", "bob", "u00001"])),
        "exp": claim(TIMES),
        "nbf": claim(TIMES),
        "iat": claim(TIMES),
        "jti": claim(st.sampled_from(["id-1"])),
    }
).map(lambda c: {k: v for k, v in c.items() if v != "<absent>"})
HEADERS = st.fixed_dictionaries(
    {"alg": st.sampled_from(["HS256", "RS256", "none", "HS512"]), "typ": st.just("JWT")},
    optional={"kid": st.sampled_from(["k1", 7, None]), "b64": st.sampled_from([True, False])},
)


def comparable(claims: dict[str, Any], header: dict[str, Any]) -> bool:
    """Leave out the documented stricter cases: PyJWT reads a digit string or a boolean as a
    NumericDate, and takes `b64: false` as a detached payload."""
    dates_are_numbers = all(
        type(claims[name]) in (int, float) for name in ("exp", "nbf", "iat") if name in claims
    )
    return dates_are_numbers and header.get("b64", True) is True


@pytest.mark.parametrize("algorithm", ["HS256", "RS256"])
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    claims=CLAIMS,
    header=HEADERS,
    sign_with=st.sampled_from(["hs256", "hs256-other", "rs256", "rs256-other", "none"]),
)
def test_same_verdict_as_pyjwt(
    algorithm: str,
    claims: dict[str, Any],
    header: dict[str, Any],
    sign_with: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    auth = _authenticator(algorithm, tmp_path_factory)
    token = encode(header, claims, sign_with)
    ours = our_verdict(auth, token)
    if not comparable(claims, header):
        assert ours == "token_malformed" or not ours.startswith("ok"), (ours, claims)
        return
    assert ours == pyjwt_verdict(token, algorithm), (claims, header, sign_with)


@pytest.mark.parametrize("algorithm", ["HS256", "RS256"])
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_changed_character_gets_pyjwts_verdict(
    algorithm: str, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    auth = _authenticator(algorithm, tmp_path_factory)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": NOW, "exp": NOW + 600}
    token = encode({"alg": algorithm, "typ": "JWT"}, claims, algorithm.lower())
    position = data.draw(st.integers(0, len(token) - 1))
    if token[position] == ".":
        return
    changed = token[:position] + data.draw(st.sampled_from(ALPHABET)) + token[position + 1 :]
    verdict = our_verdict(auth, changed)
    assert verdict == pyjwt_verdict(changed, algorithm), (position, token, changed)
    if changed != token:
        assert not verdict.startswith("ok") or _same_bytes(token, changed)


_AUTHENTICATORS: dict[str, JwtAuthenticator] = {}


def _authenticator(algorithm: str, factory: pytest.TempPathFactory) -> JwtAuthenticator:
    if algorithm not in _AUTHENTICATORS:
        _AUTHENTICATORS[algorithm] = authenticator(algorithm, factory.mktemp("keys"))
    return _AUTHENTICATORS[algorithm]


def _same_bytes(a: str, b: str) -> bool:
    """Never true for canonical base64url: one spelling per value."""
    return [jwt.utils.base64url_decode(p) for p in a.split(".")] == [
        jwt.utils.base64url_decode(p) for p in b.split(".")
    ]


def test_a_valid_token_for_each_algorithm_is_accepted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    claims = {"iss": ISSUER, "aud": [AUDIENCE], "sub": "alice", "iat": NOW, "exp": NOW + 600}
    for algorithm in ("HS256", "RS256"):
        token = encode({"alg": algorithm}, claims, algorithm.lower())
        assert our_verdict(_authenticator(algorithm, tmp_path_factory), token) == "ok:alice"
