"""A decided ``TokenRequest`` becomes a token (or kit token) through the library, and JSON bytes.

A request with a room ID gets a strict token whose payload carries its room privileges; one
without gets a plain token, as in ZEGO's guide.
"""

from __future__ import annotations

from typing import NamedTuple

from ..kit import kit_token_for_production
from ..privileges import privilege_payload
from ..token04 import Mode, mint_token04
from .config import MintConfig
from .contracts import TokenRequest


class Minted(NamedTuple):  # a tuple: cheaper to build than a frozen dataclass, per request
    token: str
    expire: int
    kit_token: str | None = None

    def json(self) -> bytes:
        # Tokens are base64 (plus '#' in kit tokens): nothing in them needs JSON escaping.
        if self.kit_token is None:
            return f'{{"token":"{self.token}","expire":{self.expire}}}'.encode("ascii")
        return (
            f'{{"kitToken":"{self.kit_token}","token":"{self.token}","expire":{self.expire}}}'
        ).encode("ascii")


class Minter:
    def __init__(self, config: MintConfig) -> None:
        self._secrets = {app.app_id: app.secret for app in config.apps}
        self.mode: Mode = config.token.default_mode

    def mint(self, request: TokenRequest) -> Minted:
        """Raises ``InvalidParameter`` for IDs the library refuses (a 400 for the client)."""
        payload = ""
        if request.room_id is not None:
            payload = privilege_payload(
                request.room_id,
                login=request.login,
                publish=request.publish,
                stream_ids=request.stream_ids,
            )
        # The parser and the policy have checked the TTL (within token.max_ttl) and the
        # payload is ours: the library's core skips those checks, not the ID and secret ones.
        token, expire = mint_token04(
            request.app_id,
            request.user_id,
            self._secrets[request.app_id],
            request.ttl,
            payload,
            self.mode,
        )
        if request.kind == "kit":
            assert request.room_id is not None  # the parser requires it for kit tokens
            kit = kit_token_for_production(
                request.app_id, token, request.room_id, request.user_id, request.user_name
            )
            return Minted(token=token, expire=expire, kit_token=kit)
        return Minted(token=token, expire=expire)
