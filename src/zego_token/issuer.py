"""``TokenIssuer``: one ZEGOCLOUD app's AppID and ServerSecret, bound once, minting many tokens.

The object the embedded endpoints (``zego_token.integrations``) are built on, and the shortest
way to mint from a script: ``TokenIssuer(app_id, secret).token("alice")``. Lifetimes take
seconds or a ``timedelta``; one over ``max_ttl`` is refused, never clamped, so a caller learns
its mistake instead of handing out a token shorter than it asked for.
"""

from __future__ import annotations

import typing
from datetime import timedelta
from typing import NamedTuple

from .errors import InvalidParameter
from .kit import kit_token_for_production
from .limits import CODE_EFFECTIVE_TIME, check_app_id, check_lifetime, check_secret
from .privileges import privilege_payload
from .token04 import Mode, Token04, decode_token04, generate_token04, read_header

_MODES = typing.get_args(Mode)


class IssuedToken(NamedTuple):
    token: str
    expire: int  # Unix time, seconds


class IssuedKitToken(NamedTuple):
    kit_token: str  # what the UIKit's create() takes
    token: str
    expire: int


class TokenIssuer:
    """Mints and verifies Token04 tokens for one app.

    ``default_ttl`` is used when a call gives no ``ttl``; a ``ttl`` outside
    ``min_ttl..max_ttl`` raises ``InvalidParameter``. The secret is checked here, once, and
    never shown by ``repr``.
    """

    __slots__ = ("_secret", "app_id", "default_ttl", "max_ttl", "min_ttl", "mode")

    def __init__(
        self,
        app_id: int,
        server_secret: str,
        *,
        default_ttl: int | timedelta = 3600,
        max_ttl: int | timedelta = 86400,
        min_ttl: int | timedelta = 60,
        mode: Mode = "gcm",
    ) -> None:
        self.app_id = check_app_id(app_id)
        check_secret(server_secret)
        self._secret = server_secret
        if mode not in _MODES:
            raise InvalidParameter(f"mode must be 'gcm' or 'cbc', got {mode!r}", parameter="mode")
        self.mode: Mode = mode
        self.min_ttl = check_lifetime(min_ttl, "min_ttl")
        self.max_ttl = check_lifetime(max_ttl, "max_ttl")
        if self.min_ttl > self.max_ttl:
            raise InvalidParameter(
                f"min_ttl ({self.min_ttl} s) is greater than max_ttl ({self.max_ttl} s)",
                parameter="min_ttl",
            )
        self.default_ttl = self.check_ttl(default_ttl, "default_ttl")

    def __repr__(self) -> str:
        return (
            f"TokenIssuer(app_id={self.app_id}, default_ttl={self.default_ttl}, "
            f"max_ttl={self.max_ttl}, mode={self.mode!r})"
        )

    @property
    def server_secret(self) -> str:
        """The ServerSecret, for code that must hand it on (never logged by this package)."""
        return self._secret

    def check_ttl(self, ttl: int | timedelta, name: str = "ttl") -> int:
        """``ttl`` in whole seconds, or ``InvalidParameter`` when outside min_ttl..max_ttl."""
        seconds = check_lifetime(ttl, name)
        if seconds > self.max_ttl:
            raise InvalidParameter(
                f"{name} is {seconds} s; the maximum is {self.max_ttl} s (max_ttl); not clamped: "
                f"ask for {self.max_ttl} or less",
                code=CODE_EFFECTIVE_TIME,
                parameter=name,
            )
        if seconds < self.min_ttl:
            raise InvalidParameter(
                f"{name} is {seconds} s; the minimum is {self.min_ttl} s (min_ttl); not clamped: "
                f"ask for {self.min_ttl} or more",
                code=CODE_EFFECTIVE_TIME,
                parameter=name,
            )
        return seconds

    def token(
        self,
        user_id: str,
        *,
        ttl: int | timedelta | None = None,
        room_id: str | None = None,
        login: bool = True,
        publish: bool = False,
        stream_ids: list[str] | tuple[str, ...] | None = None,
    ) -> IssuedToken:
        """A token for ``user_id``; with ``room_id`` a strict token carrying that room's
        privileges (login, publish, stream IDs), as the standalone server mints it."""
        seconds = self.default_ttl if ttl is None else self.check_ttl(ttl)
        payload = ""
        if room_id is not None:
            payload = privilege_payload(
                room_id, login=login, publish=publish, stream_ids=stream_ids
            )
        elif publish or not login or stream_ids is not None:
            raise InvalidParameter(
                "login, publish and stream_ids need room_id: privileges are granted per room",
                parameter="room_id",
            )
        token = generate_token04(
            self.app_id, user_id, self._secret, seconds, payload, mode=self.mode
        )
        return IssuedToken(token, _expire_of(token))

    def kit_token(
        self,
        user_id: str,
        room_id: str,
        user_name: str = "",
        *,
        ttl: int | timedelta | None = None,
        publish: bool = False,
        stream_ids: list[str] | tuple[str, ...] | None = None,
    ) -> IssuedKitToken:
        """A kit token for the web UIKit: a strict token for ``room_id`` plus the room and user
        it is for. ``user_name`` defaults to the user ID, as the server's endpoint does."""
        issued = self.token(
            user_id, ttl=ttl, room_id=room_id, publish=publish, stream_ids=stream_ids
        )
        kit = kit_token_for_production(
            self.app_id, issued.token, room_id, user_id, user_name or user_id
        )
        return IssuedKitToken(kit, issued.token, issued.expire)

    def verify(
        self,
        token: str,
        *,
        user_id: str | None = None,
        leeway: int = 0,
        verify_expiry: bool = True,
    ) -> Token04:
        """Open a token of this app; raises like ``decode_token04`` (``AppIdMismatch`` for
        another app's token, ``UserIdMismatch`` when ``user_id`` is given and differs)."""
        return decode_token04(
            token,
            self._secret,
            app_id=self.app_id,
            user_id=user_id,
            leeway=leeway,
            verify_expiry=verify_expiry,
        )


def _expire_of(token: str) -> int:
    # The header repeats the expiry in clear; reading it back avoids a second clock read that
    # could disagree with the one generate_token04 used.
    return read_header(token).expire
