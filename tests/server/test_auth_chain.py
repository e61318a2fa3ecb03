"""The chain of authentication modes: a mode that does not know a credential leaves it to the
modes after it, and its refusal stands only when none of them knows it either."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from zego_token.auth.chain import AuthChain
from zego_token.auth.keys import ApiKey, ApiKeyAuth
from zego_token.pipeline.contracts import Identity, RequestContext, RequestHeaders
from zego_token.pipeline.errors import HttpError

CONTEXT = RequestContext(
    client_ip="127.0.0.1", method="GET", path="/api/token", headers=RequestHeaders(())
)
KEY = "zt_chain_key_0123456789abcdefghij"


class Partner:
    """A mode of the embedding deployment's own: it knows one opaque credential."""

    name = "partner"
    reusable = False

    async def authenticate(self, authorization: str | None, context: RequestContext) -> Identity:
        if authorization == "Bearer partner-credential":
            return Identity(method="partner", subject="partner-app")
        raise HttpError(401, "unsupported_credentials", "not a partner credential")

    async def ready(self) -> bool:
        return True


def chain() -> AuthChain:
    api_keys = ApiKeyAuth([ApiKey(name="backend", digest=hashlib.sha256(KEY.encode()).digest())])
    return AuthChain([api_keys, Partner()])


def authenticate(header: str) -> Identity:
    return asyncio.run(chain().authenticate(header, CONTEXT))


def test_a_credential_the_api_key_mode_does_not_know_reaches_the_next_mode() -> None:
    assert authenticate("Bearer partner-credential").subject == "partner-app"


def test_a_known_api_key_is_decided_by_the_first_mode() -> None:
    assert authenticate(f"Bearer {KEY}").subject == "backend"


def test_a_credential_no_mode_knows_gets_the_first_modes_refusal() -> None:
    with pytest.raises(HttpError) as refused:
        authenticate("Bearer nobody-knows-this")
    assert (refused.value.status, refused.value.code) == (401, "invalid_api_key")
