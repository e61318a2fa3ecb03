"""The token pipeline every endpoint runs, standalone or embedded in an app's own framework.

A parsed ``TokenRequest`` and whoever asks become a decision and a token: rate limit per client
IP -> identify -> rate limit per identity -> deciders (policy, then hook) -> mint; with a remote
limiter that counts both keys in one round trip (Redis), identify -> both limits at once (a
caller identify refuses is still counted by IP: ``TokenPipeline``). Nothing here
knows HTTP servers or web frameworks: an adapter (``server.http`` for Granian/ASGI,
``integrations.*`` for FastAPI, Flask and Django) reads its request into an ``Exchange`` and
writes the answer (the bodies of refusals are ``errors``').
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from .config import PipelineConfig
from .contracts import (
    CountingRateLimiter,
    Decider,
    Identity,
    ImmediateDecider,
    PairedRateLimiter,
    RateDecision,
    RateLimiter,
    RequestContext,
    TokenKind,
    TokenRequest,
)
from .errors import HttpError
from .mint import Minter
from .params import RequestParser
from .ratelimit import IP_KEY_PREFIX, LimiterFull, rate_decision

ClientIp = Callable[[str, Mapping[str, str]], str]


class Exchange(Protocol):
    """One request as the pipeline sees it. The pipeline records on it what logs need."""

    user_id: str | None
    app_id: int | None
    client: str  # the peer's address
    granted: TokenRequest | None  # what the minted token grants, for the audit trail

    def context(self, client_ip: ClientIp | None) -> RequestContext: ...


E = TypeVar("E", bound=Exchange)
J = TypeVar("J")

# Who asks: the identity, and ``method:subject`` (the name logs and per-identity limits use),
# at once when it is known without I/O (an API key seen a moment ago, an embedding app's
# ``authorize`` answer), else an awaitable of them. Raises ``HttpError`` 401 for a caller it
# does not accept.
Identified = tuple[Identity, str]
Identify = Callable[[E], Identified | Awaitable[Identified]]


def identified(identity: Identity) -> Identified:
    """``identity`` with its name for logs and per-identity limits: ``method:subject``."""
    return identity, f"{identity.method}:{identity.subject}"


class RateLimits:
    """The per-IP and per-identity limits in one window; a limit of 0 is off."""

    __slots__ = ("_count", "_hit_both", "ip_key", "limiter", "per_identity", "per_ip", "window")

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        per_ip: int,
        per_identity: int,
        window: int,
        ip_key: Callable[[str], str] = IP_KEY_PREFIX.__add__,
    ):
        self.limiter = limiter
        self.per_ip = per_ip
        self.per_identity = per_identity
        self.window = window
        # The per-IP bucket's key: IPv6 clients are counted per network (rate_limit.ipv6_prefix).
        self.ip_key = ip_key
        self._count = limiter.count if isinstance(limiter, CountingRateLimiter) else None
        self._hit_both = limiter.hit_both if isinstance(limiter, PairedRateLimiter) else None

    @property
    def paired(self) -> bool:
        """Both limits are on and the limiter counts both keys in one round trip."""
        return bool(self.per_ip and self.per_identity and self._hit_both is not None)

    def check(self, key: str, limit: int) -> Awaitable[None] | None:
        """Count one request on ``key``; raise the 429 when it is over ``limit``. Returns what
        to await when the limiter is remote (Redis), None when it answered at once (memory)."""
        count = self._count
        if count is None:
            return self._check_remote(key, limit)
        hits, ms_left = count(key, self.window)
        if hits > limit:
            raise self.refused(rate_decision(hits, limit, ms_left))
        return None

    async def _check_remote(self, key: str, limit: int) -> None:
        decision = await self.limiter.hit(key, limit, self.window)
        if not decision.allowed:
            raise self.refused(decision)

    async def check_both(self, ip_key: str, identity_key: str) -> None:
        """Count one request on the client IP and on the identity in one round trip (a
        ``PairedRateLimiter``); raise the 429 of the first limit it is over."""
        assert self._hit_both is not None  # called only when ``paired``
        decision = await self._hit_both(
            ip_key, self.per_ip, identity_key, self.per_identity, self.window
        )
        if not decision.allowed:
            raise self.refused(decision)

    def refused(self, decision: RateDecision) -> HttpError:
        retry = max(1, decision.retry_after)
        return HttpError(
            429,
            "rate_limited",
            f"too many requests: at most {decision.limit} per {self.window} s; retry in {retry} s",
            headers={"retry-after": str(retry)},
        )


# The headers of every answer: JSON, never cached (a token is a credential), never sniffed.
JSON_HEADERS = [
    ("content-type", "application/json"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
]


def _ignore_issued(app_id: int, mode: str, kind: TokenKind) -> None:
    pass


class _Progress(Generic[E]):
    """An ``Exchange``'s progress through the steps: what has been decided about it so far."""

    __slots__ = ("exchange", "identity", "ip_untracked", "request", "subject")

    def __init__(self, exchange: E, request: TokenRequest) -> None:
        self.exchange = exchange
        self.request = request
        self.identity: Identity = _NOBODY  # set by the identify step, always before it is read
        self.subject = ""
        # The per-IP table was full: refused after identify unless the caller has a credential.
        self.ip_untracked: LimiterFull | None = None


_NOBODY = Identity(method="none", subject="(not identified yet)")

# A step does its work at once and returns None, or returns what to await for it (a Redis
# limit, a JWT whose JWKS key is fetched, an async hook).
Step = Callable[[_Progress[E]], Awaitable[None] | None]


class TokenPipeline(Generic[E]):
    """Parses, decides and mints for one configuration (apps, TTL bounds, mode).

    The configured steps run in order: rate limit per client IP, identify, rate limit per
    identity, the deciders (policy, then hook), then the mint. With both limits on and a
    ``PairedRateLimiter`` (Redis), the two limits are one step after identify, one round trip
    instead of two: every request is still counted on its IP (a caller identify refuses too,
    which then gets the 429 instead of the refusal once its IP is over the limit), and the
    identity only once authenticated, never for a request its IP refused (docs/security.md).
    ``issue`` runs them without a coroutine while each answers at once (in-memory limits, a
    remembered API key, the policy) and hands the rest to one coroutine at the first step that
    must wait: on the usual request that is no coroutine at all, where awaiting one per step
    cost ~10 % of the server's time.
    """

    def __init__(
        self,
        config: PipelineConfig,
        *,
        identify: Identify[E],
        deciders: Sequence[Decider] = (),
        rate_limits: RateLimits | None = None,
        client_ip: ClientIp | None = None,
        on_issued: Callable[[int, str, TokenKind], None] = _ignore_issued,
        tracer: Any = None,
    ) -> None:
        self.parser = RequestParser(config)
        self.minter = Minter(config)
        self.identify = identify
        self.deciders = tuple(deciders)
        self.rate_limits = rate_limits
        self.client_ip = client_ip
        self.on_issued = on_issued
        self.max_body = config.max_body_bytes
        # Bound once: the adapters call these per request.
        self.from_query = self.parser.from_query
        self.from_json = self.parser.from_json
        # (span name, step): the names are the child spans of a request when tracing is on.
        steps: list[tuple[str, Step[E]]] = []
        if rate_limits is not None and rate_limits.paired:
            # A remote limiter counting both keys in one round trip: identify first, then the
            # IP and the identity together; a caller refused by identify is still counted by
            # IP (``_identify_counting_ip``). Security notes: docs/security.md, "Rate limits".
            steps.append(("identify", self._identify_counting_ip))
            steps.append(("limits", self._limit_both))
        else:
            if rate_limits is not None and rate_limits.per_ip:
                steps.append(("limits", self._limit_ip))
            steps.append(("identify", self._identify))
            if rate_limits is not None and rate_limits.per_identity:
                steps.append(("limits", self._limit_identity))
        for decider in self.deciders:
            name = getattr(decider, "span_name", type(decider).__name__)
            # Deciders that need no I/O (the policy) are called without a coroutine.
            if isinstance(decider, ImmediateDecider):
                steps.append((name, functools.partial(_decide_now, decider.decide_now)))
            else:
                steps.append((name, functools.partial(self._decide, decider)))
        self._mint_step: Callable[[_Progress[E]], bytes] = self._mint
        if tracer is not None:
            from .tracing import traced_step

            steps = [(name, traced_step(tracer, name, step)) for name, step in steps]
            self._mint_step = _traced_mint(tracer, self._mint)
        self._steps = tuple(step for _, step in steps)

    def issue(self, exchange: E, request: TokenRequest) -> bytes | Awaitable[bytes]:
        """The token response body for ``request``, at once when no step had to wait, else an
        awaitable of it; raises (or the awaitable raises) ``HttpError``/``InvalidParameter``."""
        exchange.user_id = request.user_id
        exchange.app_id = request.app_id
        progress = _Progress(exchange, request)
        for index, step in enumerate(self._steps):
            pending = step(progress)
            if pending is not None:
                return self._issue_later(progress, pending, index + 1)
        return self._mint_step(progress)

    async def _issue_later(
        self, progress: _Progress[E], pending: Awaitable[None], start: int
    ) -> bytes:
        await pending
        for step in self._steps[start:]:
            pending_step = step(progress)
            if pending_step is not None:
                await pending_step
        return self._mint_step(progress)

    def _mint(self, progress: _Progress[E]) -> bytes:
        request = progress.request
        exchange = progress.exchange
        exchange.user_id = request.user_id
        exchange.granted = request
        minted = self.minter.mint(request)
        self.on_issued(request.app_id, self.minter.mode, request.kind)
        return minted.json()

    # -- the steps ------------------------------------------------------------------------------

    def _ip_key(self, limits: RateLimits, exchange: E) -> str:
        # The request context (client IP, headers) is built only for the steps that read it:
        # without trusted proxies the client is the peer.
        if self.client_ip is None:
            return limits.ip_key(exchange.client)
        return limits.ip_key(exchange.context(self.client_ip).client_ip)

    def _limit_ip(self, progress: _Progress[E]) -> Awaitable[None] | None:
        limits = self.rate_limits
        assert limits is not None  # a step only when configured
        try:
            return limits.check(self._ip_key(limits, progress.exchange), limits.per_ip)
        except LimiterFull as full:
            # Strangers may have filled the IP table; whether this caller is one is known
            # after identify, and a caller with a credential is then limited by identity.
            progress.ip_untracked = full
            return None

    def _identify(self, progress: _Progress[E]) -> Awaitable[None] | None:
        found = self.identify(progress.exchange)
        if isinstance(found, tuple):
            progress.identity, progress.subject = found
            _refuse_untracked_stranger(progress)
            return None
        return _identified_later(progress, found)

    def _limit_identity(self, progress: _Progress[E]) -> Awaitable[None] | None:
        if progress.identity.method == "none":
            return None  # everyone is "anonymous": the per-IP limit is the one that applies
        limits = self.rate_limits
        assert limits is not None  # a step only when configured
        return limits.check(progress.subject, limits.per_identity)

    def _identify_counting_ip(self, progress: _Progress[E]) -> Awaitable[None] | None:
        """Identify, for the paired limits: a caller identify refuses (a wrong credential, none
        where one is needed) is counted by IP all the same, and gets the 429 instead of the
        refusal once its IP is over the limit, as when the IP was counted first."""
        try:
            pending = self._identify(progress)
        except Exception as refusal:
            return self._count_ip_then_raise(progress, refusal)
        if pending is None:
            return None
        return self._identified_later_counting_ip(progress, pending)

    async def _identified_later_counting_ip(
        self, progress: _Progress[E], pending: Awaitable[None]
    ) -> None:
        try:
            await pending
        except Exception as refusal:
            await self._count_ip_then_raise(progress, refusal)

    async def _count_ip_then_raise(self, progress: _Progress[E], refusal: Exception) -> None:
        limits = self.rate_limits
        assert limits is not None  # a step only when configured
        pending = limits.check(self._ip_key(limits, progress.exchange), limits.per_ip)
        if pending is not None:
            await pending  # raises the 429 when the IP is over its limit
        raise refusal

    def _limit_both(self, progress: _Progress[E]) -> Awaitable[None] | None:
        limits = self.rate_limits
        assert limits is not None  # a step only when configured
        ip_key = self._ip_key(limits, progress.exchange)
        if progress.identity.method == "none":
            return limits.check(ip_key, limits.per_ip)  # no identity: the IP's limit alone
        return limits.check_both(ip_key, progress.subject)

    async def _decide(self, decider: Decider, progress: _Progress[E]) -> None:
        progress.request = await decider.decide(
            progress.identity, progress.request, progress.exchange.context(self.client_ip)
        )

    def check_json_request(self, content_type: bytes | None, content_length: bytes | None) -> None:
        """A POST's headers before its body is read: JSON only, and not larger than allowed."""
        media = (content_type or b"").split(b";", 1)[0].strip().lower()
        if media != b"application/json":
            raise HttpError(
                415,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )
        if content_length is not None:
            if not content_length.isdigit():
                raise HttpError(400, "invalid_parameter", "Content-Length is not a number")
            if int(content_length) > self.max_body:
                raise self.too_large()

    def too_large(self) -> HttpError:
        return HttpError(
            413,
            "body_too_large",
            f"the body is larger than {self.max_body} bytes (server.max_body_bytes); a token "
            "request is a few hundred bytes",
        )


def _traced_mint(tracer: Any, mint: Callable[[J], bytes]) -> Callable[[J], bytes]:
    def traced(progress: J) -> bytes:
        with tracer.start_as_current_span("mint"):
            return mint(progress)

    return traced


def _decide_now(
    decide_now: Callable[[Identity, TokenRequest], TokenRequest], progress: _Progress[E]
) -> None:
    progress.request = decide_now(progress.identity, progress.request)


async def _identified_later(progress: _Progress[E], found: Awaitable[Identified]) -> None:
    progress.identity, progress.subject = await found
    _refuse_untracked_stranger(progress)


def _refuse_untracked_stranger(progress: _Progress[E]) -> None:
    """The deferred refusal of a full IP table, for a caller without a credential."""
    if progress.ip_untracked is not None and progress.identity.method == "none":
        raise progress.ip_untracked


def check_request_target(raw_target: bytes) -> None:
    """Refuse a request target a proxy and this server could read differently: an encoded slash
    (``/api%2Ftoken`` decodes to ``/api/token``, which a proxy's rule for ``/api/token`` never
    matched) is 404, and a raw ``#`` (everything after it would be dropped) is 400.
    ``raw_target`` is the path as sent, before percent-decoding (with the query, if at hand)."""
    if b"#" in raw_target:
        raise HttpError(
            400,
            "invalid_request_target",
            "the request target contains a raw '#'; percent-encode it as %23",
        )
    if b"%2f" in raw_target.split(b"?", 1)[0].lower():
        raise HttpError(
            404,
            "not_found",
            "no endpoint at a path with an encoded slash (%2F); the endpoints are listed in "
            "/openapi.json",
        )


def unauthenticated() -> HttpError:
    return HttpError(
        401,
        "missing_credentials",
        "sign in first: this endpoint issues tokens only to signed-in users",
    )


def identity_or_refuse(identity: object) -> Identity:
    """An ``authorize`` callback's answer: an ``Identity``, or None for "not signed in" (401).
    Anything else is a bug in the callback, reported as such instead of guessed at."""
    if identity is None:
        raise unauthenticated()
    if not isinstance(identity, Identity):
        raise TypeError(
            f"authorize returned {type(identity).__name__}; return an Identity, or None for "
            "a request that is not signed in"
        )
    return identity
