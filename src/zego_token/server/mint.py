"""A decided ``TokenRequest`` becomes a token (or kit token) through the library, and JSON bytes.

A request with a room ID gets a strict token whose payload carries its room privileges; one
without gets a plain token, as in ZEGO's guide.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from ..kit import kit_token_for_production
from ..privileges import privilege_payload
from ..randomness import nonce_and_iv
from ..token04 import Mode, encode_token04
from .config import Settings
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
    def __init__(self, settings: Settings) -> None:
        self._secrets = {app.app_id: app.secret for app in settings.apps}
        mode = settings.token.default_mode
        self.mode: Mode = "cbc" if mode == "cbc" else "gcm"

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
        ctime = int(time.time())
        expire = ctime + request.ttl
        nonce, iv = nonce_and_iv(12 if self.mode == "gcm" else 16)
        token = encode_token04(
            app_id=request.app_id,
            user_id=request.user_id,
            secret=self._secrets[request.app_id],
            ctime=ctime,
            expire=expire,
            nonce=nonce,
            payload=payload,
            mode=self.mode,
            iv=iv,
        )
        if request.kind == "kit":
            assert request.room_id is not None  # the parser requires it for kit tokens
            kit = kit_token_for_production(
                request.app_id, token, request.room_id, request.user_id, request.user_name
            )
            return Minted(token=token, expire=expire, kit_token=kit)
        return Minted(token=token, expire=expire)
