"""A compact JWT verified in one pass: parsed once, signed-checked with a key prepared once.

The signature is checked by PyJWT's algorithm objects (their ``verify`` is one call into C:
``hmac`` or ``cryptography``), with the key each of them prepared when the server started or
when a JWKS key was first used; PyJWT's ``jwt.decode`` instead re-prepared the key on every call
(the HMAC secret probed as PEM, SSH and DER) and checked each base64url character in Python:
two thirds of the JWT mode's time (docs/benchmarks.md). The claims rules are PyJWT's (RFC 7519:
required claims, iat/nbf/exp with leeway, iss, aud, sub and jti types), a little stricter on
types: a NumericDate must be a JSON number, never a string or a boolean.
``tests/test_auth_jwt_verify.py`` checks that this module and ``jwt.decode`` agree.
"""

from __future__ import annotations

import binascii
import hmac
import json
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jwt.algorithms import Algorithm, get_default_algorithms

from ..pipeline.errors import HttpError

# Three base64url parts; the signature may be empty (that is how `alg: none` tokens look, and
# they must be recognised to be refused by name rather than handed to the next mode). Checked
# by deleting the allowed bytes in C (bytes.translate): a third of the regex's time.
_BASE64URL_AND_DOT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
_SAME_BYTES = bytes(range(256))
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")
_json = json.JSONDecoder().decode  # what json.loads calls, without its type checks
# Base64 characters whose spare low bits are zero: the last character of a segment whose length
# is 2 or 3 modulo 4 carries 4 or 2 spare bits. Any other last character is a second spelling
# of the same bytes, which PyJWT refuses too (it re-encodes and compares).
_ZERO_LOW_4 = frozenset(b"AQgw")
_ZERO_LOW_2 = frozenset(b"AEIMQUYcgkosw048")
_ALGORITHMS = get_default_algorithms()
_HMAC_DIGESTS = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}

if sys.version_info >= (3, 11):
    _a2b = binascii.a2b_base64
else:  # pragma: no cover - 3.10: no strict_mode; jwt_shaped allows only the alphabet

    def _a2b(data: bytes, *, strict_mode: bool = False) -> bytes:
        return binascii.a2b_base64(data)


def jwt_shaped(token: str) -> bool:
    """Whether ``token`` is three base64url parts joined by dots, the first two non-empty."""
    if not token.isascii():
        return False
    raw = token.encode("ascii")
    return (
        not raw.translate(_SAME_BYTES, _BASE64URL_AND_DOT)
        and raw.count(b".") == 2
        and not raw.startswith(b".")
        and b".." not in raw
    )


def refuse(code: str, message: str) -> HttpError:
    return HttpError(
        401, code, message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def _malformed() -> HttpError:
    return refuse("token_malformed", "the bearer credential is not a readable JWT")


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """One key for one algorithm, prepared once by that algorithm's own checks. For HMAC,
    ``keyed`` is the HMAC state after the key (the standard library's, in OpenSSL): each token
    then costs a copy and its own bytes, not a new HMAC context (~40 % of an HS256 check)."""

    algorithm: str
    verifier: Algorithm
    key: Any
    keyed: hmac.HMAC | None = None

    @classmethod
    def prepare(cls, algorithm: str, key: Any) -> VerifyingKey:
        """Raises PyJWT's InvalidKeyError when the key does not fit the algorithm (an HMAC
        secret that looks like a PEM or SSH key, an EC key on another curve, ...)."""
        verifier = _ALGORITHMS[algorithm]
        prepared = verifier.prepare_key(key)
        keyed = None
        if algorithm in _HMAC_DIGESTS:
            keyed = hmac.new(prepared, digestmod=_HMAC_DIGESTS[algorithm])
        return cls(algorithm, verifier, prepared, keyed)


@dataclass(frozen=True, slots=True)
class UnverifiedJwt:
    """A JWT split and decoded, nothing of it trusted yet."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def read(token: str) -> UnverifiedJwt:
    """Split and decode a JWT: three base64url segments in canonical form, a header and claims
    that are JSON objects, a string ``kid`` if any, no ``crit`` extension (none is supported);
    raises the ``token_malformed`` refusal otherwise."""
    if not jwt_shaped(token):
        raise _malformed()
    raw = token.encode("ascii")
    head, body, signature = raw.translate(_TO_STANDARD).split(b".")
    try:
        header = _json(_segment(head).decode())
        claims = _json(_segment(body).decode())
        raw_signature = _segment(signature)
    except (ValueError, RecursionError):
        raise _malformed() from None
    if type(header) is not dict or type(claims) is not dict:
        raise _malformed()
    if ("kid" in header and type(header["kid"]) is not str) or "crit" in header:
        raise _malformed()
    if header.get("b64", True) is not True:  # RFC 7797 unencoded payloads: not supported
        raise _malformed()
    signing_input = raw[: len(head) + 1 + len(body)]
    return UnverifiedJwt(header, claims, signing_input, raw_signature)


def _segment(segment: bytes) -> bytes:
    """Strict base64 (already translated from base64url) without padding, one spelling per
    value: the segment's characters are already known to be in the alphabet."""
    rest = len(segment) % 4
    if rest == 1 or (rest == 2 and segment[-1] not in _ZERO_LOW_4):
        raise ValueError("not canonical base64url")
    if rest == 3 and segment[-1] not in _ZERO_LOW_2:
        raise ValueError("not canonical base64url")
    return _a2b(segment + _PADDING[rest], strict_mode=True)


def check_signature(jwt: UnverifiedJwt, key: VerifyingKey) -> None:
    if key.keyed is not None:
        mac = key.keyed.copy()
        mac.update(jwt.signing_input)
        valid = hmac.compare_digest(mac.digest(), jwt.signature)
    else:
        valid = key.verifier.verify(jwt.signing_input, key.key, jwt.signature)
    if not valid:
        raise refuse("token_bad_signature", "the JWT signature does not verify")


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """What the claims must say: ``exp``, ``iss``, ``aud`` and the ``required`` claims present
    and not null, ``iss`` equal to ``issuer``, ``aud`` naming one of ``audience``, the times
    valid within ``leeway`` seconds. Checked in PyJWT's order, each refusal with its code."""

    issuer: str
    audience: frozenset[str]
    required: tuple[str, ...]
    leeway: int

    def check(self, claims: Mapping[str, Any], now: float | None = None) -> None:
        for name in ("exp", "iss", "aud", *self.required):
            if claims.get(name) is None:
                raise refuse("token_missing_claim", f"the JWT lacks the required claim {name!r}")
        if now is None:
            now = time.time()
        leeway = self.leeway
        for name in ("iat", "nbf"):
            if name in claims and _numeric_date(claims[name]) > now + leeway:
                raise refuse(
                    "token_not_yet_valid", "the JWT is not valid yet (nbf/iat in the future)"
                )
        if _numeric_date(claims["exp"]) <= now - leeway:
            raise refuse("token_expired", "the JWT has expired (exp); sign in again")
        if claims["iss"] != self.issuer or type(claims["iss"]) is not str:
            raise refuse("token_wrong_issuer", "the JWT's iss is not the configured issuer")
        audience = claims["aud"]
        if not audience:
            raise refuse("token_missing_claim", "the JWT lacks the required claim 'aud'")
        if type(audience) is str:
            audience = (audience,)
        elif type(audience) is not list or not all(type(a) is str for a in audience):
            audience = ()
        if self.audience.isdisjoint(audience):
            raise refuse("token_wrong_audience", "the JWT's aud is not this server's audience")
        for name in ("sub", "jti"):
            if name in claims and type(claims[name]) is not str:
                raise _bad_claims()


def _numeric_date(value: object) -> int:
    """A NumericDate (RFC 7519 section 2) compared as PyJWT does, in whole seconds; only a JSON
    number is one (PyJWT also takes a digit string or a boolean)."""
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return int(value)
    raise _bad_claims()


def _bad_claims() -> HttpError:
    return refuse("token_malformed", "the JWT's header or claims are malformed")
