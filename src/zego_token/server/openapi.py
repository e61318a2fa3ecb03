"""The OpenAPI 3.1 description of this server, built from its configuration.

It states what the server really does with this configuration (TTL bounds, configured
AppIDs, whether credentials are required, whether the demo endpoints exist), so a contract
tester can hold every response to it. It never contains a secret or a key.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..fingerprint import GENERATORS
from ..limits import MAX_ROOM_ID_BYTES, MAX_STREAM_ID_BYTES, MAX_USER_ID_BYTES, MAX_USER_NAME_BYTES
from ..pipeline.errors import ERROR_CODES, Step, codes_for
from ..pipeline.params import MAX_STREAM_IDS
from .config import Settings

ASCII_PATTERN = "^[\\u0000-\\u007f]*$"


def build_openapi(settings: Settings, *, user_id_pattern: str | None = None) -> dict[str, Any]:
    token = settings.token
    app_ids = [app.app_id for app in settings.apps]
    modes = settings.auth.modes
    needs_credentials = any(m != "none" for m in modes)
    optional_credentials = "none" in modes
    features = configured_features(settings)

    def errors(*steps: Step) -> dict[str, Any]:
        return _errors(steps, features)

    user_id: dict[str, Any] = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_USER_ID_BYTES,
        "description": f"ZEGO user ID: 1..{MAX_USER_ID_BYTES} UTF-8 bytes.",
    }
    if user_id_pattern:
        user_id["pattern"] = user_id_pattern
    ascii_user_id = {**user_id, "pattern": user_id_pattern or ASCII_PATTERN}
    room_id: dict[str, Any] = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ROOM_ID_BYTES,
        "description": f"Room ID: 1..{MAX_ROOM_ID_BYTES} UTF-8 bytes.",
    }
    ascii_room_id = {**room_id, "pattern": ASCII_PATTERN}
    stream_id = {"type": "string", "minLength": 1, "maxLength": MAX_STREAM_ID_BYTES}
    ttl = {
        "type": "integer",
        "minimum": token.min_ttl,
        "maximum": token.max_ttl,
        "default": token.default_ttl,
        "description": (
            f"Validity in seconds ({token.min_ttl}..{token.max_ttl}). Outside the bounds the "
            "request is refused with 422, never clamped."
        ),
    }
    app_id = {
        "type": "integer",
        "enum": app_ids,
        "default": app_ids[0],
        "description": "AppID of a configured app; the first configured app by default.",
    }
    flag = {"type": "string", "enum": ["0", "1", "true", "false"]}

    def query_params(kind: str) -> list[dict[str, Any]]:
        params = [
            _param(
                "userID",
                ascii_user_id if kind == "kit" else user_id,
                True,
                "The user the token is for.",
            ),
            _param("expired_ts", ttl, False, "Validity in seconds (as in ZEGO's guide)."),
            _param(
                "roomID",
                ascii_room_id if kind == "kit" else room_id,
                kind == "kit",
                "With a room ID the token is strict: its payload carries the room privileges.",
            ),
            _param("publish", flag, False, "1: may publish streams in roomID. Needs roomID."),
            _param("login", flag, False, "1 (default): may log in to roomID. Needs roomID."),
            {
                "name": "streamID",
                "in": "query",
                "required": False,
                "style": "form",
                "explode": True,
                "description": "Repeat for each stream ID the user may publish. Needs roomID.",
                "schema": {"type": "array", "items": stream_id, "maxItems": MAX_STREAM_IDS},
            },
            _param("appID", app_id, False, "Which configured app to mint for."),
        ]
        if kind == "kit":
            params.append(
                _param(
                    "userName",
                    {"type": "string", "maxLength": MAX_USER_NAME_BYTES},
                    False,
                    "Name shown by the UIKit; the user ID by default.",
                )
            )
        return params

    def body_schema(kind: str) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "user_id": ascii_user_id if kind == "kit" else user_id,
            "ttl": ttl,
            "room_id": ascii_room_id if kind == "kit" else room_id,
            "login": {"type": "boolean", "default": True},
            "publish": {"type": "boolean", "default": False},
            "stream_ids": {
                "type": "array",
                "items": stream_id,
                "minItems": 1,
                "maxItems": MAX_STREAM_IDS,
                "description": "The stream IDs the user may publish. Omit for any stream (where "
                "allowed); an empty list is refused (empty_stream_list): ZEGO reads it as any "
                "stream.",
            },
            "app_id": app_id,
        }
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "required": ["user_id", "room_id"] if kind == "kit" else ["user_id"],
            "properties": properties,
        }
        if kind == "kit":
            properties["user_name"] = {"type": "string", "maxLength": MAX_USER_NAME_BYTES}
        else:
            schema["dependentRequired"] = {
                "login": ["room_id"],
                "publish": ["room_id"],
                "stream_ids": ["room_id"],
            }
        return schema

    security: list[dict[str, list[str]]] | None = None
    if needs_credentials:
        security = [{"bearer": []}]
        if optional_credentials:
            security.append({})

    def token_operation(method: str, kind: str) -> dict[str, Any]:
        name = "TokenResponse" if kind == "token" else "KitTokenResponse"
        operation: dict[str, Any] = {
            "operationId": f"{method}_{kind}",
            "summary": (
                "Mint a Token04 for a user" if kind == "token" else "Mint a UIKit kit token"
            ),
            "responses": {
                "200": {
                    "description": "The token.",
                    "headers": {"Cache-Control": {"$ref": "#/components/headers/NoStore"}},
                    "content": {"application/json": {"schema": _ref(name)}},
                },
                **errors("params", "auth", "decide", "limit", "server"),
            },
        }
        if method == "get":
            operation["parameters"] = query_params(kind)
        else:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema(kind)}},
            }
            operation["responses"].update(errors("params", "body", "auth", "decide", "limit"))
            operation["responses"] = dict(sorted(operation["responses"].items()))
        if security is not None:
            operation["security"] = security
        return operation

    paths: dict[str, Any] = {
        "/api/token": {
            "get": token_operation("get", "token"),
            "post": token_operation("post", "token"),
        },
        "/api/kit-token": {
            "get": token_operation("get", "kit"),
            "post": token_operation("post", "kit"),
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process answers",
                "responses": {
                    "200": {
                        "description": "Alive.",
                        "content": {"application/json": {"schema": _ref("Health")}},
                    }
                },
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: this process can issue tokens (maybe degraded)",
                "responses": {
                    "200": {
                        "description": "Ready; `degraded` names the parts serving degraded "
                        "(a JWKS down while cached keys verify, Redis down while limits are "
                        "counted in memory).",
                        "content": {"application/json": {"schema": _ref("Ready")}},
                    },
                    **errors("readyz"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Prometheus text format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    if settings.demo:
        paths["/demo"] = {
            "get": {
                "operationId": "demo_page",
                "summary": "The demo page (demo mode only)",
                "responses": {
                    "200": {
                        "description": "HTML.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    },
                    **_errors(("routing",), features, only=404),
                },
            }
        }
        paths["/demo/{file}"] = {
            "get": {
                "operationId": "demo_file",
                "summary": "A file of the demo page: its script and style (demo mode only)",
                "parameters": [
                    {
                        "name": "file",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The file.",
                        "content": {"*/*": {"schema": {"type": "string"}}},
                    },
                    **_errors(("routing",), features, only=404),
                },
            }
        }
        paths["/api/debug/inspect"] = {
            "post": {
                "operationId": "inspect_token",
                "summary": "Decode a token minted by this server (demo mode only)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("InspectRequest")}},
                },
                "responses": {
                    "200": {
                        "description": "The decoded claims.",
                        "content": {"application/json": {"schema": _ref("Inspection")}},
                    },
                    **errors("body", "auth", "inspect", "server"),
                },
                **({"security": security} if security is not None else {}),
            }
        }

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "zego-token server",
            "version": __version__,
            "description": (
                "Mints ZEGOCLOUD Token04 tokens for your users, the app-server endpoint of "
                "ZEGO's guide: GET /api/token?userID=...&expired_ts=86400. Errors are "
                '{"error": {"code", "message"}}.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "headers": {
                "NoStore": {
                    "description": "Tokens are never cached.",
                    "required": True,
                    "schema": {"type": "string", "const": "no-store"},
                },
                "RetryAfter": {
                    "description": "Seconds until a request would be admitted.",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
                "Allow": {
                    "description": "The methods this path accepts.",
                    "required": True,
                    "schema": {"type": "string"},
                },
            },
        },
    }
    if needs_credentials:
        document["components"]["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (or, when configured, the app's JWT).",
            }
        }
    return document


def openapi_json(settings: Settings, *, user_id_pattern: str | None = None) -> bytes:
    return json.dumps(
        build_openapi(settings, user_id_pattern=user_id_pattern), separators=(",", ":")
    ).encode("utf-8")


def _param(name: str, schema: dict[str, Any], required: bool, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def configured_features(settings: Settings) -> set[str]:
    """What is configured, in ``error_codes.Needs``'s words: which codes are possible."""
    modes = settings.auth.modes
    # Each mode that needs credentials is a feature by its name (ErrorCode.needs).
    features: set[str] = {mode for mode in modes if mode != "none"}
    if features:
        features.add("credentials")
    jwt = settings.auth.jwt
    if "jwt" in modes and jwt is not None and jwt.jwks_url:
        features.add("jwks")
    if settings.hook is not None:
        features.add("hook")
    limits = settings.rate_limit
    if limits.per_ip or limits.per_identity:
        features.add("rate_limit")
        if limits.redis_url:
            features.add("redis")
    if settings.demo:
        features.add("demo")
    return features


def _errors(
    steps: tuple[Step, ...], features: set[str], *, only: int | None = None
) -> dict[str, Any]:
    """The error responses of an operation that runs ``steps``, from ``error_codes``."""
    responses: dict[str, Any] = {}
    for status, entries in codes_for(steps, features).items():
        if only is not None and status != only:
            continue
        listed = "; ".join(f"`{e.code}`: {e.meaning}" for e in entries)
        response: dict[str, Any] = {
            "description": f"Error codes: {listed}.",
            "content": {"application/json": {"schema": _error_schema(entries)}},
        }
        if all(e.retry_after for e in entries):
            response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
        if status == 405:
            response["headers"] = {"Allow": {"$ref": "#/components/headers/Allow"}}
        responses[str(status)] = response
    return responses


def _error_schema(entries: list[Any]) -> dict[str, Any]:
    """The Error schema with ``code`` narrowed to this response's codes."""
    return {
        "allOf": [
            _ref("Error"),
            {
                "properties": {
                    "error": {"properties": {"code": {"enum": [e.code for e in entries]}}}
                }
            },
        ]
    }


def _schemas() -> dict[str, Any]:
    token = {"type": "string", "pattern": "^04[A-Za-z0-9+/]+={0,2}$"}
    return {
        "Error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"enum": sorted(ERROR_CODES)},
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "TokenResponse": {
            "type": "object",
            "additionalProperties": False,
            "required": ["token", "expire"],
            "properties": {
                "token": token,
                "expire": {"type": "integer", "description": "Unix time the token expires."},
            },
        },
        "KitTokenResponse": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kitToken", "token", "expire"],
            "properties": {
                "kitToken": {
                    "type": "string",
                    "pattern": "^04[A-Za-z0-9+/]+={0,2}#[A-Za-z0-9+/]+={0,2}$",
                    "description": "Pass to ZegoUIKitPrebuilt.create().",
                },
                "token": token,
                "expire": {"type": "integer"},
            },
        },
        "Health": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status"],
            "properties": {"status": {"const": "ok"}},
        },
        "Ready": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status", "checks"],
            "properties": {
                "status": {"enum": ["ready", "degraded"]},
                "checks": {"type": "object", "additionalProperties": {"type": "boolean"}},
                "degraded": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "InspectRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["token"],
            "properties": {
                "token": {"type": "string", "minLength": 1, "description": "Token or kit token."}
            },
        },
        "Inspection": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "mode",
                "app_id",
                "user_id",
                "nonce",
                "ctime",
                "expire",
                "seconds_left",
                "expired",
                "payload",
                "privileges",
                "kit",
                "generator",
            ],
            "properties": {
                "mode": {"enum": ["gcm", "cbc"]},
                "app_id": {"type": "integer"},
                "user_id": {"type": "string"},
                "nonce": {"type": "integer"},
                "ctime": {"type": "integer"},
                "expire": {"type": "integer"},
                "seconds_left": {"type": "integer"},
                "expired": {"type": "boolean"},
                "payload": {"type": "string"},
                "privileges": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["room_id", "login", "publish", "stream_ids"],
                            "properties": {
                                "room_id": {"type": "string"},
                                "login": {"type": "boolean"},
                                "publish": {"type": "boolean"},
                                "stream_ids": {
                                    "oneOf": [
                                        {"type": "null"},
                                        {"type": "array", "items": {"type": "string"}},
                                    ]
                                },
                            },
                        },
                    ]
                },
                "generator": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["candidates", "evidence"],
                    "description": "The generators that could have made the token "
                    "(zego_token.fingerprint), and the traits that say so.",
                    "properties": {
                        "candidates": {
                            "type": "array",
                            "items": {"enum": list(GENERATORS)},
                        },
                        "evidence": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "kit": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["app_id", "user_id", "room_id", "user_name"],
                            "properties": {
                                "app_id": {"type": "integer"},
                                "user_id": {"type": "string"},
                                "room_id": {"type": "string"},
                                "user_name": {"type": "string"},
                            },
                        },
                    ]
                },
            },
        },
    }
