"""FastAPI (and Starlette) adapter: ``app.include_router(token_router(issuer, authorize=...),
prefix="/api/zego")`` serves ``GET|POST /api/zego/token`` and ``/api/zego/kit-token``.

``authorize(request)`` gets Starlette's ``Request`` and may be sync or async.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..issuer import TokenIssuer
from ..pipeline.contracts import TokenKind
from ._endpoint import ENDPOINTS, ROUTED_METHODS, EmbeddedExchange, TokenEndpoint

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._endpoint import Authorize, EndpointOptions

__all__ = ["token_router"]


def token_router(
    issuer: TokenIssuer,
    *,
    authorize: Authorize[Request],
    **options: Unpack[EndpointOptions],
) -> APIRouter:
    """An ``APIRouter`` with the ``token`` and ``kit-token`` endpoints; mount it with a prefix.
    ``options``: see ``EndpointOptions``."""
    endpoint: TokenEndpoint[Request] = TokenEndpoint(issuer, authorize, **options)
    router = APIRouter()
    for name, kind in ENDPOINTS.items():
        view = _view(endpoint, kind)
        what = "kit token" if kind == "kit" else "token"
        for method in ROUTED_METHODS:
            # One route per method, so each has its own operation ID; only GET and POST are
            # documented, the others exist to answer 405 in this package's JSON.
            router.add_api_route(
                f"/{name}",
                view,
                methods=[method],
                response_class=Response,
                operation_id=f"zego_{name.replace('-', '_')}_{method.lower()}",
                summary=f"A ZEGO {what} for the signed-in user",
                include_in_schema=method in ("GET", "POST"),
            )
    return router


def _view(
    endpoint: TokenEndpoint[Request], kind: TokenKind
) -> Callable[[Request], Awaitable[Response]]:
    async def view(request: Request) -> Response:
        client = request.client
        post = request.method == "POST"
        exchange = EmbeddedExchange(
            method=request.method,
            path=request.url.path,
            query=request.scope.get("query_string", b""),
            # Only a POST's body is read: a GET skips two header lookups.
            content_type=request.headers.get("content-type") if post else None,
            content_length=request.headers.get("content-length") if post else None,
            client=client.host if client else "",
            header_pairs=request.headers.items,
            raw_target=request.scope.get("raw_path"),
        )
        # The body's chunks, not request.body(): that reads all of it before anything is checked.
        reply = await endpoint.handle_async(kind, exchange, request, request.stream)
        # The names are distinct (JSON headers plus at most one refusal header each), so a
        # dict loses nothing; one headers= argument costs a third of three header assignments.
        return Response(content=reply.body, status_code=reply.status, headers=dict(reply.headers))

    return view
