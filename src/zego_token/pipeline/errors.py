"""Every refusal the token endpoints answer with: the code table, ``HttpError``, and the bodies.

The one source of truth: ``HttpError`` refuses a code that is not in ``ERROR_CODES`` (or with
another status), ``/openapi.json`` documents each operation's errors from the table, docs/errors.md
is generated from it (``python -m zego_token.pipeline.errors``), and a test scans the source for
codes missing from it. Adding a refusal is one line in the table; changing the error body is
``error_body`` (and ``INTERNAL_ERROR`` for the 500), used by the server and every adapter.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Literal, NamedTuple

from ..errors import InvalidParameter

# Where in the request's life the code arises; an OpenAPI operation lists the steps it runs.
Step = Literal[
    "routing", "params", "body", "auth", "decide", "limit", "inspect", "readyz", "server"
]
# What must be configured for the code to be possible ("" : always possible).
Needs = Literal["", "credentials", "api_key", "jwt", "jwks", "hook", "rate_limit", "redis", "demo"]


class ErrorCode(NamedTuple):
    """A row of the code table: what a code means, where it can arise, what makes it possible."""

    code: str
    status: int
    meaning: str
    steps: tuple[Step, ...]
    needs: Needs = ""
    retry_after: bool = False  # the answer carries Retry-After


def _table(*entries: ErrorCode) -> dict[str, ErrorCode]:
    table: dict[str, ErrorCode] = {}
    for entry in entries:
        assert entry.code not in table, entry.code
        table[entry.code] = entry
    return table


ERROR_CODES: dict[str, ErrorCode] = _table(
    # -- 400: the request itself is malformed ---------------------------------------------------
    ErrorCode(
        "missing_parameter",
        400,
        "a required parameter is missing (userID; roomID for kit tokens)",
        ("params",),
    ),
    ErrorCode(
        "invalid_parameter",
        400,
        "a parameter has the wrong form: an ID breaking ZEGO's limits, a TTL that is not a whole "
        "number, a flag that is not 1/0, privileges without roomID, a bad Content-Length",
        ("params", "body", "inspect"),
    ),
    ErrorCode(
        "unknown_parameter",
        400,
        "a query parameter or JSON field this endpoint does not know; the message names the "
        "right spelling when one is close (room_id: did you mean roomID?). `_` is ignored",
        ("params",),
    ),
    ErrorCode(
        "invalid_json",
        400,
        "the body is not one JSON object in UTF-8, or repeats a field",
        ("body", "inspect"),
    ),
    ErrorCode(
        "empty_stream_list",
        400,
        "stream_ids is an empty list, which ZEGO reads as any stream (not as no stream): omit "
        "it for any stream where that is allowed, or name the stream IDs",
        ("body", "decide"),
    ),
    ErrorCode(
        "unknown_app_id",
        400,
        "appID is not an app this server has a ServerSecret for",
        ("params",),
    ),
    ErrorCode("repeated_authorization", 400, "more than one Authorization header", ("auth",)),
    ErrorCode(
        "invalid_request_target",
        400,
        "the request target holds a raw `#`: a fragment is never sent to a server, and the "
        "part after it would be silently dropped",
        ("routing",),
    ),
    ErrorCode(
        "invalid_token",
        400,
        "the token given to the inspector cannot be read",
        ("inspect",),
        "demo",
    ),
    # -- 401: who is asking is unknown ----------------------------------------------------------
    ErrorCode(
        "missing_credentials",
        401,
        "no Authorization header, and this server needs one",
        ("auth",),
        "credentials",
    ),
    ErrorCode(
        "unsupported_credentials",
        401,
        "the Authorization header is not a credential of a configured mode",
        ("auth",),
        "credentials",
    ),
    ErrorCode(
        "invalid_api_key", 401, "the API key is not one this server knows", ("auth",), "api_key"
    ),
    ErrorCode(
        "token_malformed",
        401,
        "the JWT is not three base64url JSON parts, or a claim has the wrong type",
        ("auth",),
        "jwt",
    ),
    ErrorCode(
        "token_too_large", 401, "the JWT is longer than auth.jwt.max_token_bytes", ("auth",), "jwt"
    ),
    ErrorCode(
        "token_algorithm_not_allowed",
        401,
        "the JWT's alg is not in auth.jwt.algorithms or does not fit the key",
        ("auth",),
        "jwt",
    ),
    ErrorCode("token_unknown_kid", 401, "no key with the JWT's kid in the JWKS", ("auth",), "jwt"),
    ErrorCode("token_bad_signature", 401, "the JWT's signature does not verify", ("auth",), "jwt"),
    ErrorCode("token_expired", 401, "the JWT's exp has passed; sign in again", ("auth",), "jwt"),
    ErrorCode(
        "token_not_yet_valid", 401, "the JWT's nbf or iat is in the future", ("auth",), "jwt"
    ),
    ErrorCode(
        "token_wrong_audience",
        401,
        "the JWT's aud is not this server's audience",
        ("auth",),
        "jwt",
    ),
    ErrorCode(
        "token_wrong_issuer", 401, "the JWT's iss is not the configured issuer", ("auth",), "jwt"
    ),
    ErrorCode(
        "token_missing_claim",
        401,
        "the JWT lacks a required claim (exp, iss, aud, the user ID)",
        ("auth",),
        "jwt",
    ),
    ErrorCode(
        "token_invalid_claim",
        401,
        "a claim the server reads has the wrong type or value",
        ("auth",),
        "jwt",
    ),
    # -- 403: known, but not allowed ------------------------------------------------------------
    ErrorCode(
        "user_id_not_allowed",
        403,
        "a signed-in user asked for another user ID's token",
        ("decide",),
    ),
    ErrorCode(
        "user_id_rules",
        403,
        "the user ID uses characters ZEGO does not allow (policy)",
        ("decide",),
    ),
    ErrorCode(
        "room_id_rules",
        403,
        "the room ID uses characters ZEGO does not allow (policy)",
        ("decide",),
    ),
    ErrorCode(
        "stream_id_rules",
        403,
        "a stream ID uses characters ZEGO does not allow (policy)",
        ("decide",),
    ),
    ErrorCode("app_not_allowed", 403, "the identity is scoped to other AppIDs", ("decide",)),
    ErrorCode(
        "room_not_allowed",
        403,
        "the room is outside the identity's rooms or policy.room_patterns, or no room was named "
        "while rooms are restricted",
        ("decide",),
    ),
    ErrorCode("publish_not_allowed", 403, "publish=1 without a publish grant", ("decide",)),
    ErrorCode(
        "stream_id_not_allowed",
        403,
        "a stream ID outside the identity's grant or policy.stream_id_template, or publishing "
        "without naming stream IDs while they are restricted",
        ("decide",),
    ),
    ErrorCode(
        "stream_id_ambiguous",
        403,
        "the user or room ID contains a separator of policy.stream_id_template, so its stream "
        "IDs could be another user's; it may not name stream IDs under that template",
        ("decide",),
    ),
    ErrorCode(
        "ttl_not_allowed",
        403,
        "expired_ts above the identity's or the policy's maximum, or below policy.min_ttl",
        ("decide",),
    ),
    ErrorCode(
        "hook_denied",
        403,
        "the server's hook refused the request (the reason is the message)",
        ("decide",),
        "hook",
    ),
    ErrorCode(
        "hook_error",
        403,
        "the server's hook failed, timed out, tried to widen the request or answered something "
        "else; refused, and logged on the server",
        ("decide",),
        "hook",
    ),
    ErrorCode(
        "hook_empty_stream_list",
        403,
        "the server's hook answered Allow(stream_ids=[]), which ZEGO would read as any stream; "
        "refused, and logged on the server (a hook grants no streams with publish=False)",
        ("decide",),
        "hook",
    ),
    ErrorCode(
        "cors_origin_not_allowed",
        403,
        "a CORS preflight from an origin not in cors.origins",
        ("routing",),
    ),
    # -- other 4xx -----------------------------------------------------------------------------
    ErrorCode(
        "not_found",
        404,
        "no endpoint (or demo file) at this path; an encoded slash (`%2F`) never names one",
        ("routing",),
    ),
    ErrorCode(
        "method_not_allowed",
        405,
        "the path exists but not with this method (see Allow)",
        ("routing",),
    ),
    ErrorCode(
        "request_timeout",
        408,
        "the body did not arrive within server.body_timeout seconds (10 by default) of the headers",
        ("body",),
    ),
    ErrorCode("body_too_large", 413, "the body is larger than server.max_body_bytes", ("body",)),
    ErrorCode(
        "unsupported_media_type",
        415,
        "the body is not sent as Content-Type: application/json",
        ("body",),
    ),
    ErrorCode(
        "ttl_out_of_range",
        422,
        "the TTL is outside [token] min_ttl..max_ttl; refused, never clamped",
        ("params",),
    ),
    ErrorCode(
        "rate_limited",
        429,
        "too many requests in the window; see Retry-After",
        ("limit",),
        "rate_limit",
        retry_after=True,
    ),
    # -- 5xx: the server or a dependency --------------------------------------------------------
    ErrorCode(
        "internal_error", 500, "an unexpected failure; logged with its traceback", ("server",)
    ),
    ErrorCode(
        "rate_limit_unavailable",
        503,
        "the rate-limit store (Redis) cannot be reached; fails closed, see Retry-After",
        ("limit",),
        "redis",
        retry_after=True,
    ),
    ErrorCode(
        "jwks_unavailable",
        503,
        "the JWKS cannot be fetched now (unreachable, refused, or fetched less than "
        "auth.jwt.jwks_refresh_interval ago) and no cached key applies; see Retry-After. Never "
        "a 401: the token may be signed with a key the provider just published",
        ("auth",),
        "jwks",
        retry_after=True,
    ),
    ErrorCode(
        "hook_busy",
        503,
        "the server's hook has hook.threads calls running, or this client hook.per_client (a "
        "timed-out sync hook runs on to its end); see Retry-After",
        ("decide",),
        "hook",
        retry_after=True,
    ),
    ErrorCode("not_ready", 503, "a back end (JWKS, Redis) cannot be reached or used", ("readyz",)),
)


def check(status: int, code: str) -> None:
    """Raise ``ValueError`` unless ``code`` is in the table with ``status``."""
    entry = ERROR_CODES.get(code)
    if entry is None:
        raise ValueError(f"error code {code!r} is not in zego_token.pipeline.errors")
    if entry.status != status:
        raise ValueError(f"error code {code!r} is {entry.status} in the table, not {status}")


class HttpError(Exception):
    """A refusal the client caused: answered as ``{"error": {"code", "message"}}`` with ``status``.

    ``message`` is shown to the client, so it must never contain a secret, key or token.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        check(status, code)  # every code is in ERROR_CODES, with its status
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


INTERNAL_ERROR = json.dumps(
    {
        "error": {
            "code": "internal_error",
            "message": "the server failed unexpectedly; the error is logged with its time, "
            "retry and report it if it persists",
        }
    }
).encode()


def http_error(exc: Exception) -> HttpError | None:
    """The client-caused refusal ``exc`` stands for, or None for a failure of ours (a 500)."""
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, InvalidParameter):
        return HttpError(400, "invalid_parameter", str(exc))
    return None


def error_body(exc: HttpError) -> bytes:
    """``{"error": {"code", "message"}}``: the one error shape of every endpoint."""
    return json.dumps(
        {"error": {"code": exc.code, "message": exc.message}}, separators=(",", ":")
    ).encode()


def method_not_allowed(method: str, where: str, allow: str) -> HttpError:
    return HttpError(
        405,
        "method_not_allowed",
        f"{method[:20]} is not allowed on {where}; use {allow}",
        headers={"allow": allow},
    )


def codes_for(steps: Iterable[Step], features: Iterable[str]) -> dict[int, list[ErrorCode]]:
    """The codes an operation running ``steps`` can answer with ``features`` configured,
    by status."""
    wanted = set(steps)
    active = {"", *features}
    result: dict[int, list[ErrorCode]] = {}
    for entry in ERROR_CODES.values():
        if entry.needs in active and wanted.intersection(entry.steps):
            result.setdefault(entry.status, []).append(entry)
    return dict(sorted(result.items()))


def markdown() -> str:
    """docs/errors.md: the table as Markdown."""
    lines = [
        "# Error codes",
        "",
        "<!-- Generated from src/zego_token/pipeline/errors.py by",
        "     `python -m zego_token.pipeline.errors > docs/errors.md`;",
        "     tests/server/test_error_codes.py checks it. -->",
        "",
        'Every refusal is JSON `{"error": {"code": "...", "message": "..."}}`. Branch on the',
        "code; the message is for people and says what to change.",
        "",
        "| status | code | meaning | needs |",
        "|---|---|---|---|",
    ]
    for entry in sorted(ERROR_CODES.values(), key=lambda e: (e.status, e.code)):
        needs = f"`{entry.needs}`" if entry.needs else ""
        lines.append(f"| {entry.status} | `{entry.code}` | {entry.meaning} | {needs} |")
    lines += [
        "",
        "*needs*: what must be configured for the code to be possible: `credentials` (any "
        "`auth.modes` other than `none`), `api_key`, `jwt`, `jwks` (`auth.jwt.jwks_url`), "
        "`hook`, `rate_limit` (`per_ip` or `per_identity`), `redis` (`rate_limit.redis_url`), "
        "`demo` (`--demo`).",
        "",
        "Granian itself answers 431 (too many or too large headers) and 414 (URL too long) "
        "before the application runs; those answers have no JSON body.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown())
