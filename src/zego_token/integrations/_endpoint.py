"""The embedded endpoints' one implementation, whatever the framework: an
``EmbeddedExchange`` (what an adapter read from its framework's request) and the app's
``authorize`` answer become a ``Reply`` (status, headers, body) through the standalone server's
own ``TokenPipeline``.

An adapter only translates: it fills an ``EmbeddedExchange``, calls ``handle_async`` or
``handle_sync``, and turns the ``Reply`` into its framework's response. The order of the steps
is the server's: the request is parsed first (a bad request is a 400 even from a stranger), then
``authorize`` is asked (``None``: 401), then the grants, policy and hook decide and the token is
minted.

Exceptions raised by ``authorize`` are the app's own and reach its framework unchanged, so
``HTTPException``, ``PermissionDenied`` or ``abort(403)`` there work as usual.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
)
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypedDict, TypeVar

from ..issuer import TokenIssuer
from ..pipeline.config import App, PipelineConfig, TokenSettings
from ..pipeline.contracts import (
    Decider,
    Identity,
    RequestContext,
    RequestHeaders,
    TokenKind,
    TokenRequest,
)
from ..pipeline.core import (
    JSON_HEADERS,
    TokenPipeline,
    check_request_target,
    identified,
    identity_or_refuse,
)
from ..pipeline.errors import INTERNAL_ERROR, error_body, http_error, method_not_allowed
from ..pipeline.hooks import HookDecider, HookFunction, HookSettings
from ..pipeline.policy import PolicyDecider, PolicySettings

if TYPE_CHECKING:
    from typing_extensions import Unpack

log = logging.getLogger("zego_token.integrations")

R = TypeVar("R")  # the framework's request type
T = TypeVar("T")

IdentityAnswer = Identity | None
Authorize = Callable[[R], IdentityAnswer | Awaitable[IdentityAnswer]]

#: The endpoints under the mount point, and the kind of token each issues.
ENDPOINTS: dict[str, TokenKind] = {"token": "token", "kit-token": "kit"}
#: Methods the adapters route to the endpoint, so that a wrong one gets this package's 405 JSON
#: rather than the framework's own page. OPTIONS and HEAD stay with the framework (CORS).
ROUTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_ALLOW = "GET, POST"


class EndpointOptions(TypedDict, total=False):
    """What the three framework factories (``token_router``, ``token_blueprint``,
    ``token_urlpatterns``) take besides the issuer and ``authorize``: one type for all three,
    whose defaults are written once, in ``TokenEndpoint``."""

    policy: PolicySettings | Mapping[str, object] | None
    hook: HookFunction | None
    hook_timeout: float
    hook_threads: int
    hook_per_client: int
    max_body_bytes: int


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class EmbeddedExchange:
    """One request as the pipeline sees it (implements ``pipeline.Exchange``)."""

    __slots__ = (
        "_context",
        "app_id",
        "client",
        "content_length",
        "content_type",
        "granted",
        "header_pairs",
        "identity",
        "method",
        "path",
        "query",
        "raw_target",
        "user_id",
    )

    def __init__(
        self,
        *,
        method: str,
        path: str,
        query: bytes,
        content_type: str | None,
        content_length: str | None,
        client: str,
        header_pairs: Callable[[], Iterable[tuple[str, str]]],
        raw_target: bytes | None = None,
    ) -> None:
        self.method = method
        # The target as sent, before percent-decoding, when the framework's server keeps it.
        self.raw_target = raw_target
        self.path = path
        self.query = query
        self.content_type = content_type
        self.content_length = content_length or None  # WSGI gives "" for "no body"
        self.client = client
        # Called only if something reads the headers (a hook): building the framework's
        # header list costs more than most of the pipeline.
        self.header_pairs = header_pairs
        self.identity: Identity | None = None
        self.user_id: str | None = None
        self.app_id: int | None = None
        self.granted: TokenRequest | None = None
        self._context: RequestContext | None = None

    def context(self, client_ip: Callable[[str, Mapping[str, str]], str] | None) -> RequestContext:
        # The app's own middleware (ProxyFix, Django's settings) decides what the client's
        # address is; the pipeline's client_ip is unset here.
        if self._context is None:
            self._context = RequestContext(
                client_ip=self.client,
                method=self.method,
                path=self.path,
                headers=RequestHeaders(_pairs(self.header_pairs)),
            )
        return self._context


def _pairs(header_pairs: Callable[[], Iterable[tuple[str, str]]]) -> Iterator[tuple[str, str]]:
    yield from header_pairs()


def _identified(exchange: EmbeddedExchange) -> tuple[Identity, str]:
    identity = exchange.identity
    assert identity is not None  # set by handle_* before the pipeline runs
    return identified(identity)


_OPTION_NAMES = ", ".join(EndpointOptions.__annotations__)


class TokenEndpoint(Generic[R]):
    """The ``/token`` and ``/kit-token`` endpoints for one ``TokenIssuer``.

    ``policy`` takes the server's ``[policy]`` settings (a ``PolicySettings`` or the same
    mapping as the TOML section); ZEGO's ID rules apply by default, as on the server.
    ``hook`` is a function of ``HookContext`` returning ``Allow``/``Deny``/bool, sync or
    async, as the server's ``[hook]``; ``hook_threads`` and ``hook_per_client`` are its
    ``threads`` and ``per_client`` (a timed-out sync hook keeps its thread until it returns).
    """

    def __init__(
        self, issuer: TokenIssuer, authorize: Authorize[R], **options: Unpack[EndpointOptions]
    ) -> None:
        unknown = set(options) - set(EndpointOptions.__annotations__)
        if unknown:
            raise TypeError(f"unknown option {sorted(unknown)[0]!r}; known: {_OPTION_NAMES}")
        policy = options.get("policy")
        hook = options.get("hook")
        max_body_bytes = options.get("max_body_bytes", 16384)
        if not isinstance(issuer, TokenIssuer):
            raise TypeError(f"issuer must be a TokenIssuer, got {type(issuer).__name__}")
        if not callable(authorize):
            raise TypeError("authorize must be a function of the request returning an Identity")
        self.authorize = authorize
        self._authorize_is_async = inspect.iscoroutinefunction(authorize)
        config = PipelineConfig(
            apps=(App(issuer.app_id, issuer.server_secret),),
            token=TokenSettings(
                default_ttl=issuer.default_ttl,
                min_ttl=issuer.min_ttl,
                max_ttl=issuer.max_ttl,
                default_mode=issuer.mode,
            ),
            max_body_bytes=max_body_bytes,
        )
        if policy is None:
            policy = PolicySettings()
        elif not isinstance(policy, PolicySettings):
            policy = PolicySettings.from_mapping(policy)
        deciders: list[Decider] = [PolicyDecider(policy)]
        if hook is not None:
            name = f"{getattr(hook, '__module__', '?')}:{getattr(hook, '__qualname__', 'hook')}"
            settings = HookSettings(
                function=name,
                timeout=options.get("hook_timeout", 2.0),
                threads=options.get("hook_threads", 8),
                per_client=options.get("hook_per_client", 2),
            )
            deciders.append(HookDecider(hook, settings))
        self.pipeline: TokenPipeline[EmbeddedExchange] = TokenPipeline(
            config, identify=_identified, deciders=deciders
        )

    # -- the two ways to run it ---------------------------------------------------------------

    async def handle_async(
        self,
        kind: TokenKind,
        exchange: EmbeddedExchange,
        request: R,
        body: Callable[[], AsyncIterator[bytes]],
    ) -> Reply:
        """For async frameworks (FastAPI, Starlette); ``authorize`` may be sync or async.
        ``body`` gives the body's chunks as they arrive: reading stops past ``max_body_bytes``."""
        try:
            data = b""
            if self._has_body(exchange):
                data = await read_at_most(body(), self.pipeline.max_body)
            parsed = self._parse(kind, exchange, data)
        except Exception as exc:
            return self.refuse(exc)
        answer = self.authorize(request)
        if inspect.isawaitable(answer):
            answer = await answer
        try:
            issued = self._issue(exchange, parsed, answer)
            if not isinstance(issued, bytes):
                issued = await issued
            return Reply(200, JSON_HEADERS, issued)
        except Exception as exc:
            return self.refuse(exc)

    def handle_sync(
        self, kind: TokenKind, exchange: EmbeddedExchange, request: R, read: Callable[[int], bytes]
    ) -> Reply:
        """For WSGI frameworks (Flask, Django). ``authorize`` runs in the calling thread, outside
        any event loop, so it may use the ORM and the session as any view does; an async one
        runs on this thread's private loop, as do the policy and the hook. ``read(n)`` reads at
        most ``n`` bytes of the body (b"" at its end): reading stops past ``max_body_bytes``."""
        try:
            data = (
                read_at_most_sync(read, self.pipeline.max_body) if self._has_body(exchange) else b""
            )
            parsed = self._parse(kind, exchange, data)
        except Exception as exc:
            return self.refuse(exc)
        answer = self.authorize(request)
        if inspect.isawaitable(answer):
            answer = run_on_thread_loop(_awaited(answer))
        try:
            issued = self._issue(exchange, parsed, answer)
            if not isinstance(issued, bytes):
                # A step waits (an async hook): the rest runs on this thread's own loop.
                issued = run_on_thread_loop(_awaited(issued))
            return Reply(200, JSON_HEADERS, issued)
        except Exception as exc:
            return self.refuse(exc)

    # -- shared steps -------------------------------------------------------------------------

    def _has_body(self, exchange: EmbeddedExchange) -> bool:
        """What is refused before any body is read (the target, a POST's headers); True when
        the body is to be read, for a POST."""
        if exchange.raw_target is not None:
            check_request_target(exchange.raw_target)
        if exchange.method != "POST":
            return False
        self.pipeline.check_json_request(
            _latin1(exchange.content_type), _latin1(exchange.content_length)
        )
        return True

    def _issue(
        self, exchange: EmbeddedExchange, parsed: TokenRequest, answer: object
    ) -> bytes | Awaitable[bytes]:
        exchange.identity = identity_or_refuse(answer)
        return self.pipeline.issue(exchange, parsed)

    def _parse(self, kind: TokenKind, exchange: EmbeddedExchange, body: bytes) -> TokenRequest:
        if exchange.method == "GET":
            return self.pipeline.from_query(exchange.query, kind)
        if exchange.method == "POST":
            if len(body) > self.pipeline.max_body:
                raise self.pipeline.too_large()  # a chunked body has no Content-Length
            return self.pipeline.from_json(body, kind)
        raise method_not_allowed(exchange.method, exchange.path[:100], _ALLOW)

    @staticmethod
    def refuse(exc: Exception) -> Reply:
        refusal = http_error(exc)
        if refusal is None:
            # Ours, not the client's: logged with its traceback, answered without it.
            log.error("the token endpoint failed unexpectedly", exc_info=exc)
            return Reply(500, JSON_HEADERS, INTERNAL_ERROR)
        headers = JSON_HEADERS
        if refusal.headers:
            headers = headers + [(k.lower(), v) for k, v in refusal.headers.items()]
        return Reply(refusal.status, headers, error_body(refusal))


# The body is read in chunks and never past ``limit + 1`` bytes, whatever Content-Length says or
# whether there is one (a chunked body has none): one byte more than allowed is proof enough
# for the 413, and the rest is never buffered. Reading stops before ``authorize`` is asked.


async def read_at_most(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The body from ``chunks``, or its first ``limit + 1`` bytes when it is larger."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(parts)[: limit + 1]


def read_at_most_sync(read: Callable[[int], bytes], limit: int) -> bytes:
    """The body from ``read(n)`` calls, or its first ``limit + 1`` bytes when it is larger."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = read(limit + 1 - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


async def _awaited(answer: Awaitable[T]) -> T:
    return await answer


_thread_loops = threading.local()


def run_on_thread_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on this thread's own event loop (made once per thread):
    a WSGI worker thread has none, and a new loop per request would cost more than the token."""
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _thread_loops.loop = loop
    return loop.run_until_complete(coroutine)


def _latin1(value: str | None) -> bytes | None:
    return None if value is None else value.encode("latin-1", "replace")
