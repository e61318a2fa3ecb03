"""The values that flow through the request pipeline, and the interfaces of its steps.

A request becomes an ``Identity`` (auth, between the per-IP and the per-identity rate limits),
the identity and the ``TokenRequest`` become a decision (policy, then hook), the decision
becomes a token (mint). Each step lives in
its own module and only speaks these types, so steps can be added without touching the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

TokenKind = Literal["token", "kit"]


@dataclass(frozen=True, slots=True)
class Grants:
    """What an identity may ask for. ``None`` means "not restricted by this identity".

    ``Grants(room_patterns=("team-*",), publish=True)``: rooms matching ``team-*``, publishing
    allowed, any stream ID, any lifetime up to the issuer's maximum, any of the server's apps.
    """

    app_ids: tuple[int, ...] | None = None
    room_patterns: tuple[str, ...] | None = None  # fnmatch-style globs, e.g. "team-*"
    publish: bool | None = None  # None: not restricted; False: never; True: allowed
    stream_ids: tuple[str, ...] | None = None  # globs the requested stream IDs must match
    max_ttl: int | None = None

    def __post_init__(self) -> None:
        # Checked here because a wrong type fails open: ("class-*") is the string "class-*",
        # whose characters include "*", and publish=0 is not ``False``.
        _set_sequence(self, "app_ids", int)
        _set_sequence(self, "room_patterns", str)
        _set_sequence(self, "stream_ids", str)
        if self.publish is not None and not isinstance(self.publish, bool):
            raise TypeError(
                f"Grants.publish must be True, False or None, not {type(self.publish).__name__}"
            )
        max_ttl = self.max_ttl
        if max_ttl is not None and (not isinstance(max_ttl, int) or isinstance(max_ttl, bool)):
            raise TypeError(
                f"Grants.max_ttl must be a whole number of seconds or None, not "
                f"{type(max_ttl).__name__}"
            )


def _set_sequence(grants: Grants, name: str, item: type) -> None:
    """``grants.<name>`` as a tuple of ``item``: None stays None, a list becomes a tuple, and
    one string (a tuple missing its comma) is a ``TypeError`` rather than a tuple of letters."""
    value = getattr(grants, name)
    if value is None:
        return
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, frozenset, set)):
        example = '("team-*",)' if item is str else "(1234567890,)"
        raise TypeError(
            f"Grants.{name} must be a tuple of {item.__name__} or None, not "
            f"{type(value).__name__} (a one-item tuple needs its comma: {example})"
        )
    values = tuple(value)
    for entry in values:
        if not isinstance(entry, item) or isinstance(entry, bool):
            raise TypeError(
                f"Grants.{name} must hold only {item.__name__} values, not "
                f"{type(entry).__name__} ({entry!r:.40})"
            )
    if type(value) is not tuple:
        object.__setattr__(grants, name, values)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking, as established by an authenticator or an app's ``authorize``.

    ``Identity(user_id="alice", grants=Grants(room_patterns=("team-*",)))`` may get tokens for
    user ``alice`` only, in rooms ``team-*``; ``Identity()`` (``user_id`` None) is a trusted
    server-to-server caller that may ask for any user ID. ``subject`` names the caller in logs
    and defaults to the user ID.
    """

    user_id: str | None = None  # the only ZEGO user ID this identity may mint for; None: any
    grants: Grants = field(default_factory=Grants)
    method: str = "app"  # "none", "api_key", "jwt", or "app" for an embedding app's authorize
    subject: str = ""  # safe for logs: a key's name or a JWT's subject, never a credential
    claims: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.user_id is not None and not isinstance(self.user_id, str):
            raise TypeError(
                f"Identity.user_id must be a string or None, not {type(self.user_id).__name__}"
            )
        if not isinstance(self.grants, Grants):
            raise TypeError(f"Identity.grants must be a Grants, not {type(self.grants).__name__}")
        for name in ("method", "subject"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Identity.{name} must be a string, not {type(value).__name__}")
        if not isinstance(self.claims, Mapping):
            raise TypeError(f"Identity.claims must be a mapping, not {type(self.claims).__name__}")
        if not self.subject:
            object.__setattr__(
                self, "subject", self.user_id if self.user_id is not None else "server"
            )


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A validated request for a token, before policy."""

    app_id: int
    user_id: str
    ttl: int
    room_id: str | None = None
    login: bool = True
    publish: bool = False
    stream_ids: tuple[str, ...] | None = None
    kind: TokenKind = "token"
    user_name: str = ""


# Credentials never reach hooks, logs or the context: the identity stands for them.
HIDDEN_HEADERS = frozenset(("authorization", "cookie", "proxy-authorization"))


class RequestHeaders(Mapping[str, str]):
    """The request headers as a read-only ``{lower-case name: value}`` mapping, without
    credentials (``HIDDEN_HEADERS``); built from ``pairs`` on first use, since most requests
    never look (only hooks and a trusted proxy's X-Forwarded-For do)."""

    __slots__ = ("_data", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs: Iterable[tuple[str, str]] | None = pairs
        self._data: dict[str, str] = {}

    def _dict(self) -> dict[str, str]:
        if self._pairs is not None:
            data = self._data
            for name, value in self._pairs:
                key = name.lower()
                if key in HIDDEN_HEADERS:
                    continue
                # Repeated headers join with commas, as HTTP defines (X-Forwarded-For too).
                data[key] = f"{data[key]}, {value}" if key in data else value
            self._pairs = None
        return self._data

    def __getitem__(self, key: str) -> str:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"RequestHeaders({self._dict()!r})"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Read-only facts about the HTTP request, for hooks and rate limits."""

    client_ip: str
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names; Authorization and Cookie removed


class Authenticator(Protocol):
    """One authentication mode.

    Returns None when the request carries no credential this mode recognises (the next mode
    is tried), an ``Identity`` when it does and it is valid, and raises ``HttpError`` (401, or
    503 when a key source is unreachable) when it recognises the credential and refuses it.
    ``reusable``: an accepted credential's identity cannot change while the process runs (API
    keys from the configuration), so the chain may remember it for a while; False for a JWT,
    whose expiry and issuer's keys are checked on every request.
    """

    name: str
    reusable: bool

    async def authenticate(
        self, authorization: str | None, context: RequestContext
    ) -> Identity | None: ...

    async def ready(self) -> bool: ...


@runtime_checkable
class Degradable(Protocol):
    """A part that can serve in a degraded way (``/readyz`` reports it, still ready): a JWKS
    unreachable while cached keys verify tokens, a rate-limit store counted in memory.
    ``degraded()`` is the reason, as of the last ``ready()``, or None."""

    def degraded(self) -> str | None: ...


class Decider(Protocol):
    """A step after authentication: returns the (possibly narrowed) request or raises 403."""

    async def decide(
        self, identity: Identity, request: TokenRequest, context: RequestContext
    ) -> TokenRequest: ...


@runtime_checkable
class ImmediateDecider(Decider, Protocol):
    """A decider that needs no I/O nor the request context (the policy): the pipeline calls
    ``decide_now`` instead of awaiting ``decide``, one coroutine less per request."""

    def decide_now(self, identity: Identity, request: TokenRequest) -> TokenRequest: ...


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds until a request would be admitted; 0 when allowed


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: int) -> RateDecision: ...

    async def ready(self) -> bool: ...

    async def close(self) -> None: ...


@runtime_checkable
class CountingRateLimiter(RateLimiter, Protocol):
    """A limiter that can count a hit without awaiting (the in-memory one): the pipeline then
    skips a coroutine per limit on its hot path."""

    def count(self, key: str, window: int) -> tuple[int, float]: ...


@runtime_checkable
class PairedRateLimiter(RateLimiter, Protocol):
    """A remote limiter that counts two keys in one round trip (Redis: one script call):
    ``first``, then ``second`` unless ``first`` is over its limit. Returns the first refusal,
    else ``second``'s decision. The pipeline then counts the client IP and the identity
    together, after authentication (``core.TokenPipeline``)."""

    def hit_both(
        self, first: str, first_limit: int, second: str, second_limit: int, window: int
    ) -> Awaitable[RateDecision]: ...
