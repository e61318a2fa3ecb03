"""The ``none`` and ``api_key`` authentication modes, and the bearer credential they read."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..pipeline.contracts import Grants, Identity, RequestContext
from ..pipeline.errors import HttpError


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A static API key, stored only as its SHA-256 digest, and the scopes it grants."""

    name: str
    digest: bytes = field(repr=False)
    grants: Grants = field(default_factory=Grants)


ANONYMOUS = Identity(method="none", subject="anonymous")
_BEARER = "bearer "


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, else None."""
    if authorization is None or len(authorization) < 8:
        return None
    if authorization[:7].lower() != _BEARER:
        return None
    return authorization[7:].strip() or None


def looks_like_jwt(credential: str) -> bool:
    # Three base64url segments: leave it to the jwt mode even when api_key comes first.
    return credential.count(".") == 2 and credential.startswith("eyJ")


class NoAuth:
    """Mode ``none``: everyone is the anonymous identity. For local development only."""

    name = "none"
    reusable = False

    async def authenticate(
        self, authorization: str | None, context: RequestContext
    ) -> Identity | None:
        return ANONYMOUS

    async def ready(self) -> bool:
        return True


class ApiKeyAuth:
    """Mode ``api_key``: ``Authorization: Bearer <key>`` against SHA-256 digests.

    The presented key is hashed once and compared with every configured digest in constant
    time, without stopping at the first match, so timing says nothing about which key is near.
    """

    name = "api_key"
    # Keys come from the configuration, read at start-up: a key's identity cannot change.
    reusable = True

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self._keys = tuple(
            (key.digest, Identity(method="api_key", subject=key.name, grants=key.grants))
            for key in keys
        )

    async def authenticate(
        self, authorization: str | None, context: RequestContext
    ) -> Identity | None:
        credential = bearer_token(authorization)
        if credential is None or looks_like_jwt(credential):
            return None
        digest = hashlib.sha256(credential.encode("utf-8", "surrogateescape")).digest()
        found: Identity | None = None
        for stored, identity in self._keys:
            if hmac.compare_digest(digest, stored):
                found = identity
        if found is None:
            raise HttpError(
                401,
                "invalid_api_key",
                "the API key in the Authorization header is not one this server knows; check "
                "the key, or ask the server's operator for one",
                headers={"www-authenticate": 'Bearer error="invalid_token"'},
            )
        return found

    async def ready(self) -> bool:
        return True
