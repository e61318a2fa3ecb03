"""The ``jwt`` authentication mode: the caller holds the business app's session JWT.

This module chooses the key (shared secret, PEM public key or a JWKS key from
``jwks.JwksCache``), prepared once per key; ``jwt_verify`` reads the token once and checks its
signature (PyJWT's algorithms, in C) and claims, each refusal with a distinct 401 code (503 while
the JWKS is unreachable); then this module reads the ZEGO user ID and the grants out of the claims.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ..pipeline.contracts import Grants, Identity, RequestContext
from ..pipeline.errors import HttpError
from ..pipeline.schema import ConfigError
from .jwks import JwksCache, JwksUnavailable
from .jwt_verify import ClaimRules, VerifyingKey, check_signature, jwt_shaped, read, refuse
from .settings import JwtSettings

SECTION = JwtSettings.SECTION

# RFC 7518 3.2: an HMAC key must be at least as long as the hash output.
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
# The JWK key type each public-key algorithm needs; a JWKS key of another type never applies.
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def bearer_jwt(authorization: str | None) -> str | None:
    """The JWT in ``Authorization: Bearer <jwt>``, or None when the header holds something else."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not jwt_shaped(credential):
        return None
    return credential


_refuse = refuse


class JwksKeys:
    """PyJWT keys for the kids of a JWKS: the cache and its refreshes are ``jwks.JwksCache``'s;
    this class turns its answers into keys or refusals."""

    def __init__(self, url: str, *, lifespan: float, refresh_interval: float, timeout: float):
        self.cache = JwksCache(
            url, lifespan=lifespan, refresh_interval=refresh_interval, timeout=timeout
        )
        self._parsed: dict[tuple[str, str], VerifyingKey] = {}
        self._generation = 0

    async def key(self, kid: str, algorithm: str) -> VerifyingKey:
        try:
            data = await self.cache.lookup(kid)
        except JwksUnavailable as unavailable:
            # 503, not 401: the token may be fine, and a client told 401 logs its user out.
            raise HttpError(
                503,
                "jwks_unavailable",
                "the identity provider's signing keys could not be fetched just now; try again "
                "shortly",
                headers={"Retry-After": str(unavailable.retry_after)},
            ) from None
        if data is None:
            raise _refuse("token_unknown_kid", f"no signing key with kid {kid!r} in the JWKS")
        return self._parse(kid, algorithm, data)

    def _parse(self, kid: str, algorithm: str, data: dict[str, Any]) -> VerifyingKey:
        key_type = _KEY_TYPES.get(algorithm[:2])
        if data.get("kty") != key_type or data.get("alg", algorithm) != algorithm:
            raise _refuse(
                "token_algorithm_not_allowed",
                f"the key {kid!r} in the JWKS is not a key for {algorithm}",
            )
        if self._generation != self.cache.generation:
            self._parsed = {}  # a refresh may have replaced the key behind a kid
            self._generation = self.cache.generation
        parsed = self._parsed.get((kid, algorithm))
        if parsed is None:
            try:
                parsed = VerifyingKey.prepare(algorithm, jwt.PyJWK(data, algorithm).key)
            except jwt.PyJWTError:
                raise _refuse(
                    "token_unknown_kid", f"the JWKS key {kid!r} is not a usable key"
                ) from None
            self._parsed[(kid, algorithm)] = parsed
        return parsed


class JwtAuthenticator:
    """Implements ``contracts.Authenticator`` for ``Authorization: Bearer <app JWT>``."""

    name = "jwt"
    reusable = False

    def __init__(self, settings: JwtSettings) -> None:
        self.settings = settings
        self._algorithms = frozenset(settings.algorithms)
        self._static_keys: dict[str, VerifyingKey] = {}
        self._jwks: JwksKeys | None = None
        if settings.jwks_url:
            self._jwks = JwksKeys(
                settings.jwks_url,
                lifespan=settings.jwks_cache_seconds,
                refresh_interval=settings.jwks_refresh_interval,
                timeout=settings.jwks_timeout,
            )
        else:
            if settings.public_key_file:
                key = _load_public_key(settings.public_key_file, settings.algorithms)
            else:
                key = _load_secret(settings)
            self._static_keys = _prepared(key, settings)
        self._rules = ClaimRules(
            issuer=settings.issuer,
            audience=frozenset(settings.audience),
            required=(settings.user_id_claim,),
            leeway=settings.leeway,
        )
        self._degraded: str | None = None

    async def ready(self) -> bool:
        """True while tokens can be verified: the JWKS answers, or keys fetched from it
        before still do (``degraded`` then says so)."""
        if self._jwks is None:
            return True
        cache = self._jwks.cache
        if await cache.ready():
            self._degraded = None
            return True
        if cache.generation > 0:  # fetched at least once: the cached keys still verify
            self._degraded = "the JWKS cannot be fetched; tokens are verified with cached keys"
            return True
        self._degraded = None
        return False

    def degraded(self) -> str | None:
        return self._degraded

    async def authenticate(
        self, authorization: str | None, context: RequestContext
    ) -> Identity | None:
        token = bearer_jwt(authorization)
        if token is None:
            return None
        if len(token) > self.settings.max_token_bytes:
            raise _refuse(
                "token_too_large",
                f"the JWT is {len(token)} bytes; this server accepts at most "
                f"{self.settings.max_token_bytes}",
            )
        # Read once, nothing trusted yet: a garbled token gets its own code before any key
        # lookup, and the header says which key to check the signature with.
        unverified = read(token)
        algorithm = unverified.header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise _refuse(
                "token_algorithm_not_allowed",
                f"JWT algorithm {str(algorithm)[:16]!r} is not allowed; this server accepts "
                f"{', '.join(self.settings.algorithms)}",
            )
        if self._jwks is None:
            key = self._static_keys[algorithm]
        else:
            kid = unverified.header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise _refuse("token_unknown_kid", "the JWT header has no kid to pick a JWKS key")
            key = await self._jwks.key(kid, algorithm)
        check_signature(unverified, key)
        self._rules.check(unverified.claims)
        return self._identity(unverified.claims)

    def _identity(self, claims: dict[str, Any]) -> Identity:
        settings = self.settings
        user_id = claims.get(settings.user_id_claim)
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id:
            raise _invalid_claim(settings.user_id_claim, "a non-empty string")
        grants = Grants(
            room_patterns=_strings(claims, settings.rooms_claim),
            publish=_publish(claims, settings.publish_claim),
            stream_ids=_strings(claims, settings.stream_ids_claim),
            max_ttl=_max_ttl(claims, settings.max_ttl_claim),
        )
        return Identity(
            method=self.name,
            subject=user_id,
            user_id=user_id,
            grants=grants,
            claims=MappingProxyType(claims),
        )


def _invalid_claim(name: str, expected: str) -> HttpError:
    return _refuse("token_invalid_claim", f"the JWT claim {name!r} must be {expected}")


# A configured grant claim that the token lacks grants nothing, exactly like an empty one:
# identity providers commonly drop empty-array claims, so "no streams" must not read as "all".
# An unconfigured claim leaves the identity unrestricted on that point, for the policy to decide.
# (docs/auth.md, "Grants from claims", has the table of absent / empty / present.)
def _strings(claims: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    if not name:
        return None
    value = claims.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _invalid_claim(name, "a string or a list of strings")


def _publish(claims: Mapping[str, Any], name: str) -> bool | None:
    if not name:
        return None
    value = claims.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid_claim(name, "true or false")
    return value


def _max_ttl(claims: Mapping[str, Any], name: str) -> int | None:
    if not name:
        return None
    value = claims.get(name)
    if value is None:
        # No lifetime granted: every request is refused (403 ttl_not_allowed) rather than
        # given the server's full token.max_ttl, which the operator never meant for this user.
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _invalid_claim(name, "a positive number of seconds")
    return value


def _load_secret(settings: JwtSettings) -> bytes:
    if settings.secret_file:
        key = f"{SECTION}.secret_file"
        try:
            # A trailing newline is an editor's, not part of the secret.
            secret = Path(settings.secret_file).read_bytes().rstrip(b"\r\n")
        except OSError as error:
            raise ConfigError(key, f"cannot read the file: {error.strerror}") from None
    else:
        key = f"{SECTION}.secret_env"
        secret = os.environ.get(settings.secret_env, "").encode("utf-8")
        if not secret:
            raise ConfigError(
                key, f"the environment variable {settings.secret_env} is empty or unset"
            )
    needed = max(_HMAC_MIN_BYTES[a] for a in settings.algorithms)
    if len(secret) < needed:
        raise ConfigError(
            key,
            f"the HMAC secret is {len(secret)} bytes; {'/'.join(settings.algorithms)} need at "
            f"least {needed} (generate one with: openssl rand -base64 {needed})",
        )
    return secret


def _prepared(key: Any, settings: JwtSettings) -> dict[str, VerifyingKey]:
    """The key prepared once for each configured algorithm, by the algorithm's own checks."""
    try:
        return {a: VerifyingKey.prepare(a, key) for a in settings.algorithms}
    except jwt.PyJWTError:
        if settings.public_key_file:
            raise ConfigError(
                f"{SECTION}.public_key_file",
                f"the key cannot verify {'/'.join(settings.algorithms)} signatures",
            ) from None
        # PyJWT refuses an HMAC secret that is a PEM, SSH or DER key: with a public key as the
        # secret, anyone holding the public key could sign tokens.
        raise ConfigError(
            f"{SECTION}.{'secret_file' if settings.secret_file else 'secret_env'}",
            "the HMAC secret looks like a public or private key; use random bytes "
            "(generate one with: openssl rand -base64 64)",
        ) from None


def _load_public_key(path: str, algorithms: tuple[str, ...]) -> Any:
    key = f"{SECTION}.public_key_file"
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(key, f"cannot read the file: {error.strerror}") from None
    if b"PRIVATE KEY" in data:
        raise ConfigError(key, "holds a private key; give this server only the public key")
    try:
        public_key = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(key, "is not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    kty = {
        rsa.RSAPublicKey: "RSA",
        ec.EllipticCurvePublicKey: "EC",
        ed25519.Ed25519PublicKey: "OKP",
    }
    key_type = next((t for cls, t in kty.items() if isinstance(public_key, cls)), None)
    unfit = [a for a in algorithms if _KEY_TYPES.get(a[:2]) != key_type]
    if unfit:
        raise ConfigError(
            f"{SECTION}.algorithms",
            f"{', '.join(unfit)} cannot be verified with the {key_type or 'given'} key in {path}",
        )
    return public_key
