"""The standalone server: a table of routes, the RSGI and ASGI entry points, uniform JSON errors.

Per token request: read (``http``) -> parse -> the pipeline (``pipeline``: rate limits,
authentication by the chain of modes, policy, hook, mint) -> respond. Every refusal is
``{"error": {"code", "message"}}``; an unexpected exception is a logged 500 that says nothing
about its cause to the client. The optional steps are built by ``wiring``; the demo's
endpoints live in ``demo``. Nothing here is a framework: the hot path is a dict lookup, a
query-string parse, one AES-GCM seal and one response call.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..auth.chain import AuthChain
from ..pipeline import tracing
from ..pipeline.contracts import Degradable, Identity
from ..pipeline.core import Identified, TokenPipeline, check_request_target, identified
from ..pipeline.errors import (
    INTERNAL_ERROR,
    HttpError,
    error_body,
    http_error,
    method_not_allowed,
)
from ..pipeline.ratelimit import Throttle
from . import demo, wiring
from .config import Settings, load_settings
from .cors import Cors, Header
from .http import (
    JSON_HEADERS,
    NOSNIFF,
    ClientDisconnected,
    HttpExchange,
    Receive,
    Response,
    RsgiBody,
    Scope,
    Send,
    error_headers,
    read_json_body,
    text_headers,
)
from .logs import Logger, open_audit_file
from .metrics import Metrics
from .openapi import openapi_json

_READY_TIMEOUT = 3.0
_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))

Handler = Callable[[HttpExchange], Response | Awaitable[Response]]


class Route:
    __slots__ = ("allow", "methods", "name")

    def __init__(self, name: str, methods: dict[str, Handler]) -> None:
        self.name = name
        self.methods = methods
        self.allow = ", ".join(methods)


class TokenServer:
    """The ASGI and RSGI application. Build it with ``create_app(settings)``."""

    def __init__(
        self,
        settings: Settings,
        *,
        logger: Logger | None = None,
        metrics: Metrics | None = None,
        tracer: Any = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        # An OpenTelemetry tracer when tracing is on (pipeline.tracing), else None.
        self.tracer = tracer
        self._on_close = on_close
        audit = settings.logging.audit_file
        self.log = logger or Logger(
            settings.logging.level,
            settings.logging.format,
            secrets=settings.secrets(),
            audit_fd=open_audit_file(audit) if audit else None,
        )
        self.metrics = metrics or Metrics()
        self.cors = Cors(settings.cors)
        self.auth = AuthChain(wiring.authenticators(settings), on_failure=self.metrics.auth_failure)
        limits, client_ip = wiring.rate_limits(
            settings,
            on_full=self.metrics.rate_limit_full,
            on_store_event=self.metrics.rate_limit_store_event,
        )
        self.pipeline: TokenPipeline[HttpExchange] = TokenPipeline(
            settings.pipeline_config(),
            identify=self._identify,
            deciders=wiring.deciders(settings),
            rate_limits=limits,
            client_ip=client_ip,
            on_issued=self.metrics.token_issued,
            tracer=tracer,
        )
        self.minter = self.pipeline.minter
        self.openapi = openapi_json(settings, user_id_pattern=wiring.user_id_pattern(settings))
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
        self._not_ready_throttle = Throttle()
        # Bound once: the handlers call these per request.
        self._issue = self.pipeline.issue
        self._from_query = self.pipeline.from_query
        self._from_json = self.pipeline.from_json

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        req = HttpExchange(scope, receive)
        if self.tracer is None:
            answer = await self._answer(req)
        else:
            answer = await self._traced_answer(req)
        if answer is None:
            return
        route, status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self._record(req, route, status, start)

    # -- RSGI: Granian's native interface, which `serve` uses ----------------------------------
    # One synchronous call hands the whole response to Granian; ASGI's two awaited sends cost
    # a fifth of a worker's time under load (py-spy, docs/benchmarks.md).

    async def __rsgi__(self, scope: Any, proto: Any) -> None:  # Granian ships no types
        if scope.proto != "http":
            proto.close(1003)  # no websockets here
            return
        start = time.perf_counter()
        req = HttpExchange.from_rsgi(scope, RsgiBody(proto))
        if self.tracer is None:
            answer = await self._answer(req)
        else:
            answer = await self._traced_answer(req)
        if answer is None:
            proto.response_empty(400, [])  # the client is gone; Granian still wants an answer
            return
        route, status, headers, body = answer
        proto.response_bytes(status, text_headers(headers), body)
        self._record(req, route, status, start)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.log.event("info", "worker started", pid=os.getpid())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Granian calls this after the worker's loop has stopped serving.
        loop.run_until_complete(self.close())
        self.log.event("info", "worker stopped", pid=os.getpid())

    # -- both interfaces -----------------------------------------------------------------------

    async def _answer(self, req: HttpExchange) -> tuple[Route, int, list[Header], bytes] | None:
        """Route and answer one request; None when the client left before its body came."""
        route = self.routes.get(req.path)
        if route is None:
            route = self._dynamic_route(req.path)
        try:
            if req.raw_target is not None:
                check_request_target(req.raw_target)
            handler = route.methods.get(req.method)
            if handler is None:
                status, headers, body = self._no_handler(req, route)
            else:
                # A GET for a token answers at once when nothing had to wait (pipeline.issue).
                answer = handler(req)
                if not isinstance(answer, tuple):
                    answer = await answer
                status, headers, body = answer
        except ClientDisconnected:
            self.metrics.error("client_disconnected")
            return None
        except Exception as exc:
            refusal = http_error(exc)
            if refusal is not None:
                status, headers, body = self._error(req, refusal)
            else:
                self.log.exception(
                    "unexpected error while answering a request", exc, path=route.name
                )
                self.metrics.error("internal_error")
                req.error = "internal_error"
                status, headers, body = 500, JSON_HEADERS, INTERNAL_ERROR
        if req.origin is not None and self.cors.enabled and status != 204:  # 204: a preflight
            headers = headers + self.cors.headers(req.origin)
        return route, status, headers, body

    async def _traced_answer(
        self, req: HttpExchange
    ) -> tuple[Route, int, list[Header], bytes] | None:
        """``_answer`` inside the request's span, a child of the caller's ``traceparent``."""
        from opentelemetry import propagate, trace

        route = self.routes.get(req.path) or self._dynamic_route(req.path)
        parent = propagate.extract(req.trace_headers())
        with self.tracer.start_as_current_span(
            f"{req.method if req.method in _METHODS else 'HTTP'} {route.name}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": req.method, "http.route": route.name},
        ) as span:
            answer = await self._answer(req)
            req.trace_id = format(span.get_span_context().trace_id, "032x")
            if answer is not None:
                span.set_attribute("http.response.status_code", answer[1])
                if answer[1] >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR))
            if req.error is not None:
                span.set_attribute("zego.error", req.error)
            if req.subject is not None:
                span.set_attribute("zego.auth", req.subject)
        return answer

    def _record(self, req: HttpExchange, route: Route, status: int, start: float) -> None:
        elapsed = time.perf_counter() - start
        self.metrics.observe(route.name, elapsed)
        # A 503 from /readyz has its own throttled warning (readyz): not an error line each.
        if self.log.requests_enabled or (status >= 500 and route.name != "/readyz"):
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
                req.granted,
                req.trace_id,
            )

    def _dynamic_route(self, path: str) -> Route:
        if self._demo_file_route is not None and path.startswith("/demo/"):
            return self._demo_file_route
        return self._not_found

    def _no_handler(self, req: HttpExchange, route: Route) -> Response:
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
            return 204, [*cors, NOSNIFF], b""
        raise method_not_allowed(req.method, route.name, route.allow)

    def _error(self, req: HttpExchange, exc: HttpError) -> Response:
        req.error = exc.code
        self.metrics.error(exc.code)
        return exc.status, error_headers(exc), error_body(exc)

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
        if self._on_close is not None:
            self._on_close()  # the tracer's last spans
        self.log.close()
        self.metrics.flush()
        limits = self.pipeline.rate_limits
        if limits is not None:
            try:
                await limits.limiter.close()
            except Exception as exc:
                self.log.exception("closing the rate limiter failed", exc)

    # -- the token endpoints: parse here, everything else in the pipeline ----------------------

    def token_get(self, req: HttpExchange) -> Response | Awaitable[Response]:
        return _ok(self._issue(req, self._from_query(req.query, "token")))

    async def token_post(self, req: HttpExchange) -> Response:
        body = await self._json_body(req)
        return await _ok_later(self._issue(req, self._from_json(body, "token")))

    def kit_get(self, req: HttpExchange) -> Response | Awaitable[Response]:
        return _ok(self._issue(req, self._from_query(req.query, "kit")))

    async def kit_post(self, req: HttpExchange) -> Response:
        body = await self._json_body(req)
        return await _ok_later(self._issue(req, self._from_json(body, "kit")))

    def _identify(self, req: HttpExchange) -> Identified | Awaitable[Identified]:
        """The pipeline's ``identify``: at once for an API key accepted a moment ago (no
        coroutine), else the full check of ``_authenticate``."""
        if req.auth_repeated:
            # Which of several credentials a proxy or server reads differs; refuse to guess.
            raise HttpError(
                400,
                "repeated_authorization",
                "send one Authorization header, not several",
            )
        identity = self.auth.recent(req.authorization)
        if identity is None:
            return self._authenticate(req)
        return _named(req, identity)

    async def _authenticate(self, req: HttpExchange) -> Identified:
        context = req.context(self.pipeline.client_ip)
        return _named(req, await self.auth.authenticate(req.authorization, context))

    async def _json_body(self, req: HttpExchange) -> bytes:
        pipeline = self.pipeline
        pipeline.check_json_request(req.content_type, req.content_length)
        return await read_json_body(
            req, pipeline.max_body, pipeline.too_large, self.settings.server.body_timeout
        )

    # -- operations ----------------------------------------------------------------------------

    async def healthz(self, req: HttpExchange) -> Response:
        return 200, JSON_HEADERS, b'{"status":"ok"}'

    async def readyz(self, req: HttpExchange) -> Response:
        """200 while this process can issue tokens, even degraded (a JWKS down while cached
        keys verify, Redis down while limits are counted in memory): the body and the
        ``zego_degraded`` gauge name the degraded parts. 503 only when a part cannot serve
        at all; that is logged at warning, at most once a second."""
        checks = await self._checks()
        degraded = self._degraded()
        self.metrics.degraded({part: part in degraded for part in checks})
        failing = [name for name, ok in checks.items() if not ok]
        if failing:
            suppressed = self._not_ready_throttle.allow("not_ready")
            if suppressed is not None:
                self.log.event("warning", "not ready", failing=failing, suppressed=suppressed)
            raise HttpError(
                503, "not_ready", f"not ready: {', '.join(failing)} cannot be reached or used"
            )
        body: dict[str, object] = {"status": "degraded" if degraded else "ready", "checks": checks}
        if degraded:
            body["degraded"] = degraded
        return 200, JSON_HEADERS, json.dumps(body).encode()

    def _degraded(self) -> dict[str, str]:
        found = self.auth.degraded()
        limits = self.pipeline.rate_limits
        if limits is not None and isinstance(limits.limiter, Degradable):
            reason = limits.limiter.degraded()
            if reason is not None:
                found["rate_limit"] = reason
        return found

    async def _checks(self) -> dict[str, bool]:
        checks: dict[str, bool] = {}
        try:
            checks.update(await asyncio.wait_for(self.auth.ready(), _READY_TIMEOUT))
        except Exception:
            checks.update({f"auth.{mode}": False for mode in self.auth.modes})
        limits = self.pipeline.rate_limits
        if limits is not None:
            try:
                checks["rate_limit"] = bool(
                    await asyncio.wait_for(limits.limiter.ready(), _READY_TIMEOUT)
                )
            except Exception:
                checks["rate_limit"] = False
        return checks

    async def metrics_text(self, req: HttpExchange) -> Response:
        body, content_type = self.metrics.render()
        return 200, [(b"content-type", content_type.encode("latin-1")), NOSNIFF], body

    async def openapi_doc(self, req: HttpExchange) -> Response:
        return 200, [(b"content-type", b"application/json"), NOSNIFF], self.openapi

    # -- demo mode -----------------------------------------------------------------------------

    async def demo_page(self, req: HttpExchange) -> Response:
        return demo.static_file("demo.html")

    async def demo_file(self, req: HttpExchange) -> Response:
        return demo.static_file(req.path[len("/demo/") :])

    async def inspect(self, req: HttpExchange) -> Response:
        token = demo.inspect_request(await self._json_body(req))
        found = self._identify(req)
        if not isinstance(found, tuple):
            await found
        view = demo.inspect(token, self.settings.apps)
        return 200, JSON_HEADERS, json.dumps(view).encode()


def _named(req: HttpExchange, identity: Identity) -> Identified:
    """``identified(identity)``, its name also recorded for the request's log line."""
    found = identified(identity)
    req.subject = found[1]
    return found


def _ok(issued: bytes | Awaitable[bytes]) -> Response | Awaitable[Response]:
    if isinstance(issued, bytes):
        return 200, JSON_HEADERS, issued
    return _ok_later(issued)


async def _ok_later(issued: bytes | Awaitable[bytes]) -> Response:
    return 200, JSON_HEADERS, issued if isinstance(issued, bytes) else await issued


def create_app(
    settings: Settings, *, logger: Logger | None = None, tracer: Any = None
) -> TokenServer:
    """The ASGI (and RSGI) application for ``settings``; ``tracer``: an OpenTelemetry tracer
    for a span per request (``worker_app`` makes one from the ``OTEL_*`` variables)."""
    return TokenServer(settings, logger=logger, tracer=tracer)


def worker_app(settings: Settings) -> TokenServer:
    """Granian's target loader in each worker process (module level, so it pickles)."""
    traced = tracing.tracer_from_environment(os.environ)
    if traced is None:
        return create_app(settings)
    tracer, stop = traced
    tracing.install(tracer)
    return TokenServer(settings, tracer=tracer, on_close=stop)


def app_from_env() -> TokenServer:
    """An app configured from the environment alone, for other ASGI servers:
    ``granian --interface asgi --factory zego_token.server.app:app_from_env``."""
    return create_app(load_settings())
