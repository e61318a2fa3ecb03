"""Demo mode's own endpoints: the page and its files, and the token inspector the page calls.

The inspector is ``diagnose()`` with each configured app's secret, shown in the page's terms.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..diagnose import Diagnosis, diagnose
from ..pipeline.config import App
from ..pipeline.errors import HttpError
from .cors import Header
from .http import NOSNIFF

STATIC_DIR = Path(__file__).parent / "static"
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TEXT_TYPES = ("application/javascript", "application/json", "image/svg+xml")


def static_file(name: str) -> tuple[int, list[Header], bytes]:
    missing = HttpError(404, "not_found", f"the demo has no file {name[:60]!r}")
    if not _STATIC_NAME.fullmatch(name) or ".." in name:
        raise missing
    try:
        data = (STATIC_DIR / name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise missing from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in _TEXT_TYPES:
        content_type += "; charset=utf-8"
    headers = [(b"content-type", content_type.encode("ascii")), (b"cache-control", b"no-cache")]
    return 200, [*headers, NOSNIFF], data


def inspect_request(body: bytes) -> str:
    """The token of an inspect request, ``{"token": "04..."}``, or a 400."""
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
    token: str = data["token"]
    return token


def inspect(text: str, apps: Sequence[App]) -> dict[str, Any]:
    """What the page shows of a token (or kit token) minted by one of ``apps``; a token none
    of their secrets opens is a 400 ``invalid_token`` with diagnose's explanation."""
    found: Diagnosis | None = None
    for app in apps:
        found = diagnose(text, app.secret)
        if found.claims is not None:
            break
    assert found is not None  # a server has at least one app
    claims = found.claims
    if claims is None:
        errors = found.errors
        message = (
            errors[0].message if errors else "the token does not open with this server's secrets"
        )
        raise HttpError(400, "invalid_token", message)
    left = claims.expire - found.now
    view = found.as_dict()
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
        "privileges": view["privileges"],
        "kit": view["kit"],
        "generator": view["generator"],
    }
