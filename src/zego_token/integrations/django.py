"""Django adapter: ``path("api/zego/", include(token_urlpatterns(issuer, authorize=...)))``
serves ``GET|POST /api/zego/token`` and ``/api/zego/kit-token``.

``authorize(request)`` gets Django's ``HttpRequest`` (``request.user``, ``request.session``)
and runs in the view's thread like any sync view, so the ORM works as usual.

CSRF: the views are ``csrf_exempt`` because they take only ``Content-Type: application/json``
bodies, which a cross-site page cannot send without a CORS preflight that these views never
answer; a cross-site form post (``text/plain``, ``x-www-form-urlencoded``) is refused with 415,
and a cross-site GET cannot read the response. Whether the caller is signed in is
``authorize``'s decision, made on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

# Django ships no type information; its stubs package needs a mypy plugin and settings.
from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]
from django.urls import URLPattern, path  # type: ignore[import-untyped]
from django.views.decorators.csrf import csrf_exempt  # type: ignore[import-untyped]

from ..issuer import TokenIssuer
from ..pipeline.contracts import TokenKind
from ._endpoint import ENDPOINTS, EmbeddedExchange, TokenEndpoint

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._endpoint import Authorize, EndpointOptions

__all__ = ["token_urlpatterns"]


def token_urlpatterns(
    issuer: TokenIssuer,
    *,
    authorize: Authorize[HttpRequest],
    **options: Unpack[EndpointOptions],
) -> list[URLPattern]:
    """URL patterns for ``token`` and ``kit-token``; ``include()`` them under a prefix.
    ``options``: see ``EndpointOptions``."""
    endpoint: TokenEndpoint[HttpRequest] = TokenEndpoint(issuer, authorize, **options)
    patterns: list[URLPattern] = [
        path(name, _view(endpoint, kind), name=f"zego_{name.replace('-', '_')}")
        for name, kind in ENDPOINTS.items()
    ]
    return patterns


def _view(
    endpoint: TokenEndpoint[HttpRequest], kind: TokenKind
) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        meta = request.META
        exchange = EmbeddedExchange(
            method=request.method or "GET",
            path=request.path,
            # WSGI hands the query string over as latin-1 text: this gives back its bytes.
            query=meta.get("QUERY_STRING", "").encode("latin-1", "replace"),
            content_type=meta.get("CONTENT_TYPE"),
            content_length=meta.get("CONTENT_LENGTH"),
            client=meta.get("REMOTE_ADDR", ""),
            header_pairs=lambda: request.headers.items(),
            raw_target=_raw_target(meta),
        )
        # request.read, not request.body: that reads all of the body before anything is checked.
        reply = endpoint.handle_sync(kind, exchange, request, request.read)
        return HttpResponse(reply.body, status=reply.status, headers=dict(reply.headers))

    return cast(Callable[[HttpRequest], HttpResponse], csrf_exempt(view))


def _raw_target(meta: Mapping[str, object]) -> bytes | None:
    # Gunicorn keeps the target as sent; WSGI gives it as latin-1 text.
    raw = meta.get("RAW_URI") or meta.get("REQUEST_URI")
    return raw.encode("latin-1", "replace") if isinstance(raw, str) else None
