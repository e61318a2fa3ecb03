"""The ASGI application: a table of routes, the token pipeline, and uniform JSON errors.

Per token request: parse -> rate limit per client IP -> authenticate (the chain of modes) ->
rate limit per identity -> deciders (policy, then hook) -> mint -> respond. Every refusal is
``{"error": {"code", "message"}}``; an unexpected exception is a logged 500 that says nothing
about its cause to the client. Nothing here is a framework: the hot path is a dict lookup, a
query-string parse, one AES-GCM seal and two ``send`` calls.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import mimetypes
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import DecryptionFailed, InvalidParameter, InvalidToken
from ..kit import parse_kit_token
from ..token04 import decode_token04
from .auth import ApiKeyAuth, AuthChain, NoAuth
from .config import EXTENSIONS, Settings, load_settings
from .contracts import (
    Authenticator,
    ConfigError,
    Decider,
    HttpError,
    Identity,
    RateDecision,
    RateLimiter,
    RequestContext,
    TokenRequest,
)
from .cors import Cors, Header
from .logs import Logger
from .metrics import Metrics
from .mint import Minter
from .openapi import openapi_json
from .params import RequestParser

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Response = tuple[int, list[Header], bytes]

STATIC_DIR = Path(__file__).parent / "static"
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_READY_TIMEOUT = 3.0

_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
JSON_HEADERS: list[Header] = [(b"content-type", b"application/json"), _NO_STORE, _NOSNIFF]
_INTERNAL_ERROR = json.dumps(
    {
        "error": {
            "code": "internal_error",
            "message": "the server failed unexpectedly; the error is logged with its time, "
            "retry and report it if it persists",
        }
    }
).encode()


_JSON_HEADERS_TEXT = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in JSON_HEADERS]


class ClientDisconnected(Exception):
    """The client went away before its request body arrived."""


class _RsgiBody:
    """RSGI's body chunks as ASGI ``receive`` messages, so body reading has one implementation
    (with its size limit and timeout) for both interfaces."""

    __slots__ = ("_chunks",)

    def __init__(self, proto: Any) -> None:
        self._chunks = proto.__aiter__()

    async def __call__(self) -> dict[str, Any]:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        except Exception:
            # Granian raises its ProtocolClosed when the client hangs up mid-body.
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": bytes(chunk), "more_body": True}


class Request:
    """What the pipeline needs from one HTTP request, read in one pass over the headers."""

    __slots__ = (
        "_context",
        "app_id",
        "auth_repeated",
        "authorization",
        "client",
        "content_length",
        "content_type",
        "error",
        "headers",
        "method",
        "origin",
        "path",
        "preflight_method",
        "query",
        "receive",
        "subject",
        "user_id",
    )

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: bytes = scope["query_string"]
        self.headers: Any = scope["headers"]  # ASGI's byte pairs, or RSGI's header map
        client = scope.get("client")
        self.client: str = client[0] if client else ""
        self.receive = receive
        self.authorization: str | None = None
        self.auth_repeated = False
        self.origin: bytes | None = None
        self.content_type: bytes | None = None
        self.content_length: bytes | None = None
        self.preflight_method: bytes | None = None
        for name, value in self.headers:
            if name == b"authorization":
                self.auth_repeated = self.authorization is not None
                self.authorization = value.decode("latin-1")
            elif name == b"origin":
                self.origin = value
            elif name == b"content-type":
                self.content_type = value
            elif name == b"content-length":
                self.content_length = value
            elif name == b"access-control-request-method":
                self.preflight_method = value
        self.user_id: str | None = None
        self.app_id: int | None = None
        self.subject: str | None = None
        self.error: str | None = None
        self._context: RequestContext | None = None

    @classmethod
    def from_rsgi(cls, scope: Any, receive: Receive) -> Request:
        """The same fields from an RSGI scope, whose headers are looked up by name in Rust."""
        req = cls.__new__(cls)
        req.method = scope.method
        req.path = scope.path
        req.query = scope.query_string.encode("utf-8", "surrogateescape")
        headers = scope.headers
        req.headers = headers
        req.client = scope.client.rpartition(":")[0].strip("[]")
        req.receive = receive
        req.authorization = headers.get("authorization")
        # get() gives the first of repeated headers; items() shows them all.
        req.auth_repeated = req.authorization is not None and (
            sum(name == "authorization" for name, _ in headers.items()) > 1
        )
        req.origin = _latin1(headers.get("origin"))
        req.content_type = _latin1(headers.get("content-type"))
        req.content_length = _latin1(headers.get("content-length"))
        req.preflight_method = _latin1(headers.get("access-control-request-method"))
        req.user_id = None
        req.app_id = None
        req.subject = None
        req.error = None
        req._context = None
        return req

    def context(self, client_ip: Callable[[str, Mapping[str, str]], str] | None) -> RequestContext:
        if self._context is None:
            headers = LazyHeaders(self.headers)
            self._context = RequestContext(
                client_ip=self.client if client_ip is None else client_ip(self.client, headers),
                method=self.method,
                path=self.path,
                headers=headers,
            )
        return self._context


class LazyHeaders(Mapping[str, str]):
    """The request headers as a read-only ``{lower-case name: value}`` mapping, without
    Authorization and Cookie; decoded on first use, as most requests never look."""

    __slots__ = ("_data", "_raw")

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._data: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._data is None:
            data: dict[str, str] = {}
            for key, text in _text_pairs(self._raw):
                if key == "authorization" or key == "cookie":
                    continue
                # Repeated headers join with commas, as HTTP defines (X-Forwarded-For too).
                data[key] = f"{data[key]}, {text}" if key in data else text
            self._data = data
        return self._data

    def __getitem__(self, key: str) -> str:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"LazyHeaders({self._dict()!r})"


def _latin1(value: str | None) -> bytes | None:
    return None if value is None else value.encode("latin-1", "replace")


def _text_pairs(raw: Any) -> Iterator[tuple[str, str]]:
    """Header pairs as text, from ASGI's list of byte pairs or RSGI's header map."""
    if hasattr(raw, "items"):
        yield from raw.items()
    else:
        for name, value in raw:
            yield name.decode("latin-1"), value.decode("latin-1")


Handler = Callable[[Request], Awaitable[Response]]


class Route:
    __slots__ = ("allow", "methods", "name")

    def __init__(self, name: str, methods: dict[str, Handler]) -> None:
        self.name = name
        self.methods = methods
        self.allow = ", ".join(methods)


class TokenServer:
    """The ASGI application. Build it with ``create_app(settings)``."""

    def __init__(
        self,
        settings: Settings,
        *,
        logger: Logger | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.log = logger or Logger(
            settings.logging.level, settings.logging.format, secrets=settings.secrets()
        )
        self.metrics = metrics or Metrics()
        self.parser = RequestParser(settings)
        self.minter = Minter(settings)
        self.cors = Cors(settings.cors)
        self.max_body = settings.server.max_body_bytes
        self.body_timeout = settings.server.body_timeout
        self.auth = AuthChain(_authenticators(settings), on_failure=self.metrics.auth_failure)
        self.deciders: list[Decider] = _deciders(settings)
        self.limiter: RateLimiter | None = None
        self.per_ip = 0
        self.per_identity = 0
        self.window = 60
        self._client_ip: Callable[[str, Mapping[str, str]], str] | None = None
        self._ip_key: Callable[[str], str] = "ip:".__add__
        self._setup_rate_limits(settings)
        self.openapi = openapi_json(settings, user_id_pattern=_user_id_pattern(settings))
        self.routes: dict[str, Route] = {
            "/api/token": Route("/api/token", {"GET": self.token_get, "POST": self.token_post}),
            "/api/kit-token": Route("/api/kit-token", {"GET": self.kit_get, "POST": self.kit_post}),
            "/healthz": Route("/healthz", {"GET": self.healthz}),
            "/readyz": Route("/readyz", {"GET": self.readyz}),
            "/metrics": Route("/metrics", {"GET": self.metrics_text}),
            "/openapi.json": Route("/openapi.json", {"GET": self.openapi_doc}),
        }
        self._demo_file_route: Route | None = None
        if settings.demo:
            self.routes["/demo"] = Route("/demo", {"GET": self.demo_page})
            self.routes["/demo/"] = self.routes["/demo"]
            self.routes["/api/debug/inspect"] = Route("/api/debug/inspect", {"POST": self.inspect})
            self._demo_file_route = Route("/demo/{file}", {"GET": self.demo_file})
        self._not_found = Route("(unmatched)", {})

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        req = Request(scope, receive)
        answer = await self._answer(req)
        if answer is None:
            return
        route, status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self._record(req, route, status, start)

    # -- RSGI: Granian's native interface, which `serve` uses ----------------------------------
    # One synchronous call hands the whole response to Granian; ASGI's two awaited sends cost
    # a fifth of a worker's time under load (py-spy, docs/benchmarks.md).

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            proto.close(1003)  # no websockets here
            return
        start = time.perf_counter()
        req = Request.from_rsgi(scope, _RsgiBody(proto))
        answer = await self._answer(req)
        if answer is None:
            proto.response_empty(400, [])  # the client is gone; Granian still wants an answer
            return
        route, status, headers, body = answer
        if headers is JSON_HEADERS:
            text_headers = _JSON_HEADERS_TEXT
        else:
            text_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
        proto.response_bytes(status, text_headers, body)
        self._record(req, route, status, start)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.log.event("info", "worker started", pid=os.getpid())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Granian calls this after the worker's loop has stopped serving.
        loop.run_until_complete(self.close())
        self.log.event("info", "worker stopped", pid=os.getpid())

    # -- both interfaces -----------------------------------------------------------------------

    async def _answer(self, req: Request) -> tuple[Route, int, list[Header], bytes] | None:
        """Route and answer one request; None when the client left before its body came."""
        route = self.routes.get(req.path)
        if route is None:
            route = self._dynamic_route(req.path)
        try:
            handler = route.methods.get(req.method)
            if handler is None:
                status, headers, body = self._no_handler(req, route)
            else:
                status, headers, body = await handler(req)
        except HttpError as exc:
            status, headers, body = self._error(req, exc)
        except InvalidParameter as exc:
            status, headers, body = self._error(req, HttpError(400, "invalid_parameter", str(exc)))
        except ClientDisconnected:
            self.metrics.error("client_disconnected")
            return None
        except Exception as exc:
            self.log.exception("unexpected error while answering a request", exc, path=route.name)
            self.metrics.error("internal_error")
            req.error = "internal_error"
            status, headers, body = 500, JSON_HEADERS, _INTERNAL_ERROR
        if req.origin is not None and self.cors.enabled and status != 204:  # 204: a preflight
            headers = headers + self.cors.headers(req.origin)
        return route, status, headers, body

    def _record(self, req: Request, route: Route, status: int, start: float) -> None:
        elapsed = time.perf_counter() - start
        self.metrics.observe(route.name, elapsed)
        if self.log.requests_enabled or status >= 500:
            # The route, not the raw path: an unknown path may carry anything (a pasted key).
            self.log.request(
                req.method if req.method in _METHODS else "(other)",
                route.name,
                status,
                elapsed * 1000.0,
                req.user_id,
                req.app_id,
                req.subject,
                req.error,
            )

    def _dynamic_route(self, path: str) -> Route:
        if self._demo_file_route is not None and path.startswith("/demo/"):
            return self._demo_file_route
        return self._not_found

    def _no_handler(self, req: Request, route: Route) -> Response:
        if route is self._not_found:
            raise HttpError(
                404,
                "not_found",
                f"no endpoint at {req.path[:100]}; the endpoints are listed in /openapi.json",
            )
        if req.method == "OPTIONS" and req.origin is not None and req.preflight_method:
            cors = self.cors.preflight(req.origin, route.allow)
            if cors is None:
                raise HttpError(
                    403,
                    "cors_origin_not_allowed",
                    "this origin is not in the server's CORS allow-list (cors.origins)",
                )
            return 204, [*cors, _NOSNIFF], b""
        raise HttpError(
            405,
            "method_not_allowed",
            f"{req.method[:20]} is not allowed on {route.name}; use {route.allow}",
            headers={"allow": route.allow},
        )

    def _error(self, req: Request, exc: HttpError) -> Response:
        req.error = exc.code
        self.metrics.error(exc.code)
        body = json.dumps(
            {"error": {"code": exc.code, "message": exc.message}}, separators=(",", ":")
        ).encode()
        if not exc.headers:
            return exc.status, JSON_HEADERS, body
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
        return exc.status, JSON_HEADERS + extra, body

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.log.event("info", "worker started", pid=os.getpid())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                self.log.event("info", "worker stopped", pid=os.getpid())
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def close(self) -> None:
        self.log.flush()
        self.metrics.flush()
        if self.limiter is not None:
            try:
                await self.limiter.close()
            except Exception as exc:
                self.log.exception("closing the rate limiter failed", exc)

    # -- the token pipeline --------------------------------------------------------------------

    async def token_get(self, req: Request) -> Response:
        return await self._issue(req, self.parser.from_query(req.query, "token"))

    async def token_post(self, req: Request) -> Response:
        return await self._issue(req, self.parser.from_json(await self._json_body(req), "token"))

    async def kit_get(self, req: Request) -> Response:
        return await self._issue(req, self.parser.from_query(req.query, "kit"))

    async def kit_post(self, req: Request) -> Response:
        return await self._issue(req, self.parser.from_json(await self._json_body(req), "kit"))

    async def _issue(self, req: Request, request: TokenRequest) -> Response:
        # The hot path: one coroutine for the whole pipeline, awaiting only the steps' own calls.
        req.user_id = request.user_id
        req.app_id = request.app_id
        context = req.context(self._client_ip)
        limiter = self.limiter
        if limiter is not None and self.per_ip:
            decision = await limiter.hit(self._ip_key(context.client_ip), self.per_ip, self.window)
            if not decision.allowed:
                raise self._rate_limited(decision)
        identity, subject = await self._authenticate(req, context)
        if limiter is not None and self.per_identity and identity.method != "none":
            decision = await limiter.hit(subject, self.per_identity, self.window)
            if not decision.allowed:
                raise self._rate_limited(decision)
        for decider in self.deciders:
            request = await decider.decide(identity, request, context)
        req.user_id = request.user_id
        minted = self.minter.mint(request)
        self.metrics.token_issued(request.app_id, self.minter.mode, request.kind)
        return 200, JSON_HEADERS, minted.json()

    async def _authenticate(self, req: Request, context: RequestContext) -> tuple[Identity, str]:
        """The identity, and ``method:subject``: the name logs and per-identity limits use."""
        if req.auth_repeated:
            # Which of several credentials a proxy or server reads differs; refuse to guess.
            raise HttpError(
                400,
                "repeated_authorization",
                "send one Authorization header, not several",
            )
        identity = await self.auth.authenticate(req.authorization, context)
        req.subject = subject = f"{identity.method}:{identity.subject}"
        return identity, subject

    def _rate_limited(self, decision: RateDecision) -> HttpError:
        retry = max(1, decision.retry_after)
        return HttpError(
            429,
            "rate_limited",
            f"too many requests: at most {decision.limit} per {self.window} s; retry in {retry} s",
            headers={"retry-after": str(retry)},
        )

    async def _json_body(self, req: Request) -> bytes:
        content_type = (req.content_type or b"").split(b";", 1)[0].strip().lower()
        if content_type != b"application/json":
            raise HttpError(
                415,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )
        if req.content_length is not None:
            if not req.content_length.isdigit():
                raise HttpError(400, "invalid_parameter", "Content-Length is not a number")
            if int(req.content_length) > self.max_body:
                raise self._too_large()
        try:
            return await asyncio.wait_for(self._read_body(req), self.body_timeout)
        except asyncio.TimeoutError:
            # A client trickling its body would otherwise hold the request open forever
            # (Granian times out slow headers, not slow bodies).
            raise HttpError(
                408,
                "request_timeout",
                f"the body did not arrive within {self.body_timeout} s; send it in one go",
            ) from None

    async def _read_body(self, req: Request) -> bytes:
        chunks = []
        size = 0
        while True:
            message = await req.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large()  # stop reading: the rest is never buffered
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> HttpError:
        return HttpError(
            413,
            "body_too_large",
            f"the body is larger than {self.max_body} bytes (server.max_body_bytes); a token "
            "request is a few hundred bytes",
        )

    # -- operations ----------------------------------------------------------------------------

    async def healthz(self, req: Request) -> Response:
        return 200, JSON_HEADERS, b'{"status":"ok"}'

    async def readyz(self, req: Request) -> Response:
        checks = await self._checks()
        failing = [name for name, ok in checks.items() if not ok]
        if failing:
            raise HttpError(
                503, "not_ready", f"not ready: {', '.join(failing)} cannot be reached or used"
            )
        return 200, JSON_HEADERS, json.dumps({"status": "ready", "checks": checks}).encode()

    async def _checks(self) -> dict[str, bool]:
        checks: dict[str, bool] = {}
        try:
            checks.update(await asyncio.wait_for(self.auth.ready(), _READY_TIMEOUT))
        except Exception:
            checks.update({f"auth.{mode}": False for mode in self.auth.modes})
        if self.limiter is not None:
            try:
                checks["rate_limit"] = bool(
                    await asyncio.wait_for(self.limiter.ready(), _READY_TIMEOUT)
                )
            except Exception:
                checks["rate_limit"] = False
        return checks

    async def metrics_text(self, req: Request) -> Response:
        body, content_type = self.metrics.render()
        return 200, [(b"content-type", content_type.encode("latin-1")), _NOSNIFF], body

    async def openapi_doc(self, req: Request) -> Response:
        return 200, [(b"content-type", b"application/json"), _NOSNIFF], self.openapi

    # -- demo mode -----------------------------------------------------------------------------

    async def demo_page(self, req: Request) -> Response:
        return _static_file("demo.html")

    async def demo_file(self, req: Request) -> Response:
        return _static_file(req.path[len("/demo/") :])

    async def inspect(self, req: Request) -> Response:
        body = await self._json_body(req)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HttpError(400, "invalid_json", 'send {"token": "04..."} as JSON') from None
        if (
            not isinstance(data, dict)
            or set(data) != {"token"}
            or not isinstance(data["token"], str)
            or not data["token"]
        ):
            raise HttpError(400, "invalid_parameter", 'send {"token": "04..."}: one string field')
        await self._authenticate(req, req.context(self._client_ip))
        return 200, JSON_HEADERS, json.dumps(self._inspect(data["token"])).encode()

    def _inspect(self, text: str) -> dict[str, Any]:
        kit: dict[str, Any] | None = None
        try:
            if "#" in text:
                parsed = parse_kit_token(text)
                kit = {
                    "app_id": parsed.app_id,
                    "user_id": parsed.user_id,
                    "room_id": parsed.room_id,
                    "user_name": parsed.user_name,
                }
                text = parsed.token
            wrong: DecryptionFailed | None = None
            for app in self.settings.apps:
                try:
                    claims = decode_token04(text, app.secret, verify_expiry=False)
                    break
                except DecryptionFailed as exc:
                    wrong = exc
            else:
                assert wrong is not None
                raise wrong
        except InvalidToken as exc:
            raise HttpError(400, "invalid_token", str(exc)) from None
        left = claims.expire - int(time.time())
        privileges = claims.privileges
        return {
            "mode": claims.mode,
            "app_id": claims.app_id,
            "user_id": claims.user_id,
            "nonce": claims.nonce,
            "ctime": claims.ctime,
            "expire": claims.expire,
            "seconds_left": left,
            "expired": left <= 0,
            "payload": claims.payload,
            "privileges": None
            if privileges is None
            else {
                "room_id": privileges.room_id,
                "login": privileges.login,
                "publish": privileges.publish,
                "stream_ids": None
                if privileges.stream_ids is None
                else list(privileges.stream_ids),
            },
            "kit": kit,
        }

    # -- wiring --------------------------------------------------------------------------------

    def _setup_rate_limits(self, settings: Settings) -> None:
        limits = settings.extensions.get("rate_limit")
        module = _extension_module("rate_limit")
        trusted = tuple(
            ipaddress.ip_network(p, strict=False) for p in settings.server.trusted_proxies
        )
        trusted += tuple(getattr(limits, "trusted_proxies", ()) or ())
        if module is not None and trusted:
            # Only behind trusted proxies is X-Forwarded-For read; otherwise the peer is the client.
            client_ip = module.client_ip
            self._client_ip = lambda peer, headers: client_ip(peer, headers, trusted)
        if limits is None or module is None:
            return
        self.per_ip = int(getattr(limits, "per_ip", 0) or 0)
        self.per_identity = int(getattr(limits, "per_identity", 0) or 0)
        self.window = int(getattr(limits, "window", 60) or 60)
        self._ip_key = module.ip_key_function(int(getattr(limits, "ipv6_prefix", 64)))
        if self.per_ip or self.per_identity:
            self.limiter = module.build_rate_limiter(limits, on_full=self.metrics.rate_limit_full)


def _extension_module(section: str) -> Any | None:
    for ext in EXTENSIONS:
        if ext.section == section:
            cls = ext.load_class()
            if cls is None:
                return None
            return sys.modules[cls.__module__]
    return None


def _authenticators(settings: Settings) -> list[Authenticator]:
    result: list[Authenticator] = []
    for mode in settings.auth.modes:
        if mode == "none":
            result.append(NoAuth())
        elif mode == "api_key":
            result.append(ApiKeyAuth(settings.auth.api_keys))
        elif mode == "jwt":
            module = _extension_module("auth.jwt")
            if module is None:
                raise ConfigError("auth.modes", "mode 'jwt' is not available in this installation")
            result.append(module.JwtAuthenticator(settings.extensions["auth.jwt"]))
    return result


def _deciders(settings: Settings) -> list[Decider]:
    deciders: list[Decider] = []
    policy = settings.extensions.get("policy")
    if policy is not None:
        module = _extension_module("policy")
        assert module is not None
        deciders.append(module.PolicyDecider(policy))
    hook = settings.extensions.get("hook")
    if hook is not None:
        module = _extension_module("hook")
        assert module is not None
        deciders.append(module.load_hook(hook))
    return deciders


def _user_id_pattern(settings: Settings) -> str | None:
    """The ZEGO ID character rule as a regex, when the policy enforces it."""
    policy = settings.extensions.get("policy")
    if policy is None or not getattr(policy, "zego_id_rules", False):
        return None
    return "^[0-9A-Za-z~!@#$%^&*()_+=\\-`;',.<>/\\\\]+$"


def _static_file(name: str) -> Response:
    missing = HttpError(404, "not_found", f"the demo has no file {name[:60]!r}")
    if not _STATIC_NAME.fullmatch(name) or ".." in name:
        raise missing
    path = STATIC_DIR / name
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise missing from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in (
        "application/javascript",
        "application/json",
        "image/svg+xml",
    ):
        content_type += "; charset=utf-8"
    return (
        200,
        [
            (b"content-type", content_type.encode("ascii")),
            (b"cache-control", b"no-cache"),
            _NOSNIFF,
        ],
        data,
    )


def check_components(settings: Settings) -> None:
    """Build the authenticators and deciders once; raises ``ConfigError`` on a bad hook, key
    file or similar, which only shows when the component is built."""
    _authenticators(settings)
    _deciders(settings)


def create_app(settings: Settings, *, logger: Logger | None = None) -> TokenServer:
    """The ASGI application for ``settings``."""
    return TokenServer(settings, logger=logger)


def worker_app(settings: Settings) -> TokenServer:
    """Granian's target loader in each worker process (module level, so it pickles)."""
    return create_app(settings)


def app_from_env() -> TokenServer:
    """An app configured from the environment alone, for other ASGI servers:
    ``granian --interface asgi --factory zego_token.server.app:app_from_env``."""
    return create_app(load_settings())
