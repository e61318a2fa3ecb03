"""Flask adapter: ``app.register_blueprint(token_blueprint(issuer, authorize=...),
url_prefix="/api/zego")`` serves ``GET|POST /api/zego/token`` and ``/api/zego/kit-token``.

``authorize(request)`` gets Flask's ``request`` and runs in the request's thread, so it may use
``flask_login.current_user``, ``session`` and the database as any view does.

CSRF: the POST endpoints take only ``Content-Type: application/json``, which a cross-site page
cannot send without a CORS preflight this blueprint never answers, and a cross-site form post
(``text/plain``, ``x-www-form-urlencoded``) is refused with 415; a cross-site GET cannot read
the response. So no CSRF token is needed; with Flask-WTF's ``CSRFProtect``, exempt the
blueprint (``csrf.exempt(blueprint)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from flask import Blueprint, Request, Response, request

from ..issuer import TokenIssuer
from ..pipeline.contracts import TokenKind
from ._endpoint import ENDPOINTS, ROUTED_METHODS, EmbeddedExchange, TokenEndpoint

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._endpoint import Authorize, EndpointOptions

__all__ = ["token_blueprint"]


def token_blueprint(
    issuer: TokenIssuer,
    *,
    name: str = "zego_token",
    authorize: Authorize[Request],
    **options: Unpack[EndpointOptions],
) -> Blueprint:
    """A ``Blueprint`` with the ``token`` and ``kit-token`` endpoints; register it with a
    ``url_prefix``. ``name`` must be unique among the app's blueprints.
    ``options``: see ``EndpointOptions``."""
    endpoint: TokenEndpoint[Request] = TokenEndpoint(issuer, authorize, **options)
    blueprint = Blueprint(name, __name__)
    for path, kind in ENDPOINTS.items():
        blueprint.add_url_rule(
            f"/{path}",
            endpoint=path.replace("-", "_"),
            view_func=_view(endpoint, kind),
            methods=list(ROUTED_METHODS),
        )
    return blueprint


def _view(endpoint: TokenEndpoint[Request], kind: TokenKind) -> Callable[[], Response]:
    def view() -> Response:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        post = req.method == "POST"
        exchange = EmbeddedExchange(
            method=req.method,
            path=req.path,
            query=req.query_string,
            # Only a POST's body is read: a GET skips two header lookups.
            content_type=req.headers.get("Content-Type") if post else None,
            content_length=req.headers.get("Content-Length") if post else None,
            client=req.remote_addr or "",
            header_pairs=req.headers.items,
            raw_target=_raw_target(req.environ),
        )
        # req.stream, not req.get_data(): that reads all of the body before anything is checked.
        reply = endpoint.handle_sync(kind, exchange, req, req.stream.read)
        return Response(reply.body, status=reply.status, headers=reply.headers)

    return view


def _raw_target(environ: Mapping[str, object]) -> bytes | None:
    # Werkzeug's and Gunicorn's servers keep the target as sent; WSGI gives it as latin-1 text.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    return raw.encode("latin-1", "replace") if isinstance(raw, str) else None
