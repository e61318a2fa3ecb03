"""CORS: an explicit allow-list of origins; ``*`` only when configured as such.

An origin on the list gets ``Access-Control-Allow-Origin`` on every response (errors included,
so a browser can read why it was refused) and an answer to its preflight; any other origin
gets neither, and the browser refuses to hand the response to the page.
"""

from __future__ import annotations

from .config import CorsSettings

Header = tuple[bytes, bytes]

ALLOWED_REQUEST_HEADERS = b"Authorization, Content-Type"
EXPOSED_HEADERS = b"Retry-After"
_VARY = (b"vary", b"Origin")


class Cors:
    def __init__(self, settings: CorsSettings) -> None:
        self.enabled = bool(settings.origins)
        self.allow_any = settings.allow_any
        self.origins = frozenset(o for o in settings.origins if o != "*")
        self.credentials = settings.allow_credentials
        self.max_age = str(settings.max_age).encode("ascii")
        self._any_headers: list[Header] = [
            (b"access-control-allow-origin", b"*"),
            (b"access-control-expose-headers", EXPOSED_HEADERS),
        ]

    def allows(self, origin: str) -> bool:
        return self.allow_any or origin.lower() in self.origins

    def headers(self, origin: bytes | None) -> list[Header]:
        """The CORS headers for an actual (non-preflight) response to ``origin``."""
        if origin is None or not self.enabled:
            return []
        if self.allow_any:
            return self._any_headers
        if origin.decode("latin-1").lower() not in self.origins:
            return [_VARY]
        headers = [
            (b"access-control-allow-origin", origin),
            _VARY,
            (b"access-control-expose-headers", EXPOSED_HEADERS),
        ]
        if self.credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    def preflight(self, origin: bytes, methods: str) -> list[Header] | None:
        """Headers answering a preflight from an allowed origin, or None when it is not allowed."""
        if not self.enabled or not self.allows(origin.decode("latin-1")):
            return None
        headers = [
            (b"access-control-allow-origin", b"*" if self.allow_any else origin),
            (b"access-control-allow-methods", methods.encode("ascii")),
            (b"access-control-allow-headers", ALLOWED_REQUEST_HEADERS),
            (b"access-control-max-age", self.max_age),
        ]
        if not self.allow_any:
            headers.append(_VARY)
        if self.credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers
