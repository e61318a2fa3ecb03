"""Coverage-guided fuzz targets (atheris): each parser may fail only with its documented errors.

The library's parsers may raise only ``ZegoTokenError``; the server's configuration loader only
``ConfigError``; its request parsing and the jwt mode's verification only a 4xx ``HttpError``.

Run one with ``python fuzz/run.py TARGET SECONDS``; ``scripts/fuzz`` runs them all.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from zego_token import (
    InvalidParameter,
    ZegoTokenError,
    decode_token04,
    generate_token04,
    parse_kit_token,
    parse_privileges,
)
from zego_token.auth.jwt_mode import JwtAuthenticator
from zego_token.auth.settings import JwtSettings
from zego_token.pipeline.contracts import Identity, RequestContext, TokenKind, TokenRequest
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.mint import Minter
from zego_token.pipeline.params import JSON_FIELDS, QUERY_NAMES, RequestParser
from zego_token.pipeline.schema import ConfigError
from zego_token.server import config as server_config
from zego_token.server.config import Overrides, Settings, load_settings

SECRET = "0123456789abcdef0123456789abcdef"
_VALID = generate_token04(1, "seed", SECRET, 3600)


def token_text(data: bytes) -> None:
    """Any text as a token."""
    with contextlib.suppress(ZegoTokenError):
        decode_token04(data.decode("utf-8", "replace"), SECRET)


def token_body(data: bytes) -> None:
    """Any bytes as a token body, so the fuzzer reaches the layout and decryption code."""
    with contextlib.suppress(ZegoTokenError):
        decode_token04("04" + base64.b64encode(data).decode(), SECRET)


def token_mutation(data: bytes) -> None:
    """A real token with bytes of the input XOR-ed in: must never be accepted as changed."""
    body = bytearray(base64.b64decode(_VALID[2:]))
    changed = False
    for index, value in enumerate(data[: len(body)]):
        if value:
            body[index] ^= value
            changed = True
    try:
        decode_token04("04" + base64.b64encode(body).decode(), SECRET)
    except ZegoTokenError:
        return
    if changed:
        raise AssertionError("a modified GCM token was accepted")


def kit_token(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    with contextlib.suppress(ZegoTokenError):
        parse_kit_token(text)
    with contextlib.suppress(ZegoTokenError):
        parse_kit_token("04AAAA#" + base64.b64encode(data).decode())


def privilege_json(data: bytes) -> None:
    with contextlib.suppress(ZegoTokenError):
        parse_privileges(data.decode("utf-8", "replace"))


# -- the server's parsers ----------------------------------------------------------------------
# Configuration may fail only with ConfigError (start-up stops with a message naming the key);
# request parameters only with a 4xx HttpError, and whatever they accept must mint a token that
# decodes to exactly what was asked for.

_APP_ID = 1234567890
_SECOND_APP = 987654321
_BASE_ENV = {"ZEGO_APP_ID": str(_APP_ID), "ZEGO_SERVER_SECRET": SECRET}
# One reused directory: libFuzzer ends the process with _exit, so nothing could clean up after it.
_CONFIG_DIR = os.path.join(tempfile.gettempdir(), f"zego-token-fuzz-{os.getuid()}")
os.makedirs(_CONFIG_DIR, mode=0o700, exist_ok=True)
_CONFIG_FILE = os.path.join(_CONFIG_DIR, "config.toml")  # config_toml runs one at a time


def _env_names() -> list[str]:
    """Every ZEGO_TOKEN_<SECTION>_<KEY> the loader knows, so the fuzzer reaches the converters.

    ZEGO_TOKEN_CONFIG and the *_FILE names are left out: they name files to read, and a
    fuzzer must not wander the file system (a file of the wrong kind is tested by hand)."""
    names = ["ZEGO_APP_ID", "ZEGO_SERVER_SECRET", "ZEGO_TOKEN_", "ZEGO_TOKEN_SERVER_X"]
    sections: dict[str, dict[str, type]] = dict(server_config.OWN_FIELDS)
    for ext in server_config.EXTENSIONS:
        cls = ext.load_class()
        sections[ext.section] = dict(getattr(cls, "FIELDS", {}))
    for section, fields in sections.items():
        for key in fields:
            if not key.endswith("_file"):
                names.append(f"ZEGO_TOKEN_{section.replace('.', '_')}_{key}".upper())
    return names


_ENV_NAMES = _env_names()


def config_toml(data: bytes) -> None:
    """Any bytes as the TOML configuration file (the environment holds a valid app)."""
    with open(_CONFIG_FILE, "wb") as handle:
        handle.write(data)
    with contextlib.suppress(ConfigError):
        load_settings(Overrides(config_file=_CONFIG_FILE), dict(_BASE_ENV))


def config_env(data: bytes) -> None:
    """Environment variables: known and unknown names, any values."""
    import atheris

    provider = atheris.FuzzedDataProvider(data)
    env = dict(_BASE_ENV) if provider.ConsumeBool() else {}
    for _ in range(provider.ConsumeIntInRange(0, 8)):
        if provider.ConsumeProbability() < 0.9:
            name = provider.PickValueInList(_ENV_NAMES)
        else:
            name = "ZEGO_TOKEN_" + provider.ConsumeUnicodeNoSurrogates(12).upper()
        env[name] = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(0, 64))
    with contextlib.suppress(ConfigError):
        load_settings(Overrides(), env)


def _parser_settings() -> Settings:
    config = os.path.join(_CONFIG_DIR, "parser.toml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(f'[[apps]]\napp_id = {_SECOND_APP}\nsecret = "{SECRET[::-1]}"\n')
    return load_settings(Overrides(config_file=config), dict(_BASE_ENV))


_SETTINGS = _parser_settings()
_PARSER = RequestParser(_SETTINGS)
_MINTER = Minter(_SETTINGS)
_SECRETS = {app.app_id: app.secret for app in _SETTINGS.apps}
_KINDS: tuple[TokenKind, TokenKind] = ("token", "kit")


def _accepted(request: TokenRequest) -> None:
    """What the parser accepts mints, and the token says exactly what was asked for."""
    try:
        minted = _MINTER.mint(request)
    except InvalidParameter:
        return  # the app answers this one with 400 too
    secret = _SECRETS[request.app_id]
    claims = decode_token04(minted.token, secret, app_id=request.app_id, user_id=request.user_id)
    if claims.expire - claims.ctime != request.ttl:
        raise AssertionError("the token's lifetime is not the requested TTL")
    privileges = claims.privileges
    if request.room_id is None:
        if privileges is not None:
            raise AssertionError("a token without a room carries privileges")
    elif privileges is None or (privileges.room_id, privileges.publish) != (
        request.room_id,
        request.publish,
    ):
        raise AssertionError("the token's privileges are not the requested ones")
    if minted.kit_token is not None:
        kit = parse_kit_token(minted.kit_token)
        if (kit.user_id, kit.room_id) != (request.user_id, request.room_id):
            raise AssertionError("the kit token names another user or room")


def _parse(parse: Callable[[], TokenRequest]) -> None:
    try:
        request = parse()
    except HttpError as error:
        if not 400 <= error.status < 500:
            raise AssertionError(f"a bad request got status {error.status}") from None
        return
    _accepted(request)


_QUERY_NAMES = sorted({*QUERY_NAMES["kit"], "_", "userid", "UserID"})
_VALUES = ["alice", "1", "0", "true", "3600", "86401", "59", "-1", "1e3", "NaN", str(_SECOND_APP)]


def query_string(data: bytes) -> None:
    """Any bytes as the query string, and a query built of the real names with any values."""
    import atheris

    kind = _KINDS[data[0] & 1] if data else "token"
    _parse(lambda: _PARSER.from_query(data[1:], kind))
    provider = atheris.FuzzedDataProvider(data)
    pairs = []
    for _ in range(provider.ConsumeIntInRange(0, 8)):
        name = provider.PickValueInList(_QUERY_NAMES)
        if provider.ConsumeBool():
            value = provider.PickValueInList(_VALUES)
        else:
            value = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(0, 80))
        pairs.append((name, value))
    # Percent-encoded as a browser sends it, or raw as a careless client does.
    encoded = provider.ConsumeBool()
    query = urlencode(pairs) if encoded else "&".join(f"{n}={v}" for n, v in pairs)
    _parse(lambda: _PARSER.from_query(query.encode("utf-8", "surrogatepass"), kind))


_JSON_NAMES = sorted({*JSON_FIELDS["kit"], "userID", "extra"})


def _json_value(provider: Any, depth: int = 0) -> object:
    choice = provider.ConsumeIntInRange(0, 8)
    if choice == 0:
        return provider.ConsumeInt(8)
    if choice == 1:
        return provider.ConsumeFloat()
    if choice == 2:
        return provider.ConsumeBool()
    if choice == 3:
        return None
    if choice == 4 and depth < 3:
        return [_json_value(provider, depth + 1) for _ in range(provider.ConsumeIntInRange(0, 4))]
    if choice == 5:
        return provider.PickValueInList(_VALUES)
    if choice == 6:
        return provider.ConsumeIntInRange(1, 100000)
    return provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(0, 80))


def json_body(data: bytes) -> None:
    """Any bytes as the POST body, and JSON objects of the real fields with values of any type."""
    import atheris

    kind = _KINDS[data[0] & 1] if data else "token"
    _parse(lambda: _PARSER.from_json(data[1:], kind))
    provider = atheris.FuzzedDataProvider(data)
    body = {
        provider.PickValueInList(_JSON_NAMES): _json_value(provider)
        for _ in range(provider.ConsumeIntInRange(0, 8))
    }
    if provider.ConsumeBool():
        body.setdefault("user_id", provider.PickValueInList(_VALUES))
    # Python's json writes NaN and Infinity as bare words; the parser must refuse them as TTLs.
    text = json.dumps(body)
    _parse(lambda: _PARSER.from_json(text.encode("utf-8", "surrogatepass"), kind))


# -- the jwt mode ------------------------------------------------------------------------------
# A bearer JWT may fail only with a 4xx HttpError; a changed token is never accepted, and a
# correctly signed one is accepted only when its claims meet every rule (checked here again, by
# the rules' plain reading, not by the verifier's code).

_JWT_ISSUER = "https://id.example.test"
_JWT_AUDIENCE = "zego-token"
_JWT_LEEWAY = 30
_JWT_SECRET = b"fuzz-jwt-secret-" + bytes(range(65, 81))
_JWT_CONTEXT = RequestContext(client_ip="127.0.0.1", method="GET", path="/api/token", headers={})


def _jwt_authenticator() -> JwtAuthenticator:
    # From the environment, not a file: the targets run in parallel processes, and one
    # rewriting a shared file while another reads it gave the reader an empty secret.
    os.environ["ZEGO_TOKEN_FUZZ_JWT_SECRET"] = _JWT_SECRET.decode("ascii")
    settings = JwtSettings.from_mapping(
        {
            "algorithms": ["HS256"],
            "issuer": _JWT_ISSUER,
            "audience": [_JWT_AUDIENCE],
            "secret_env": "ZEGO_TOKEN_FUZZ_JWT_SECRET",
            "leeway": _JWT_LEEWAY,
        }
    )
    return JwtAuthenticator(settings)


_JWT = _jwt_authenticator()
_LOOP = asyncio.new_event_loop()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signed_jwt(header: object, claims: object) -> str:
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = hmac.new(_JWT_SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


_NOW = int(time.time())
_VALID_JWT = _signed_jwt(
    {"alg": "HS256", "typ": "JWT"},
    {"sub": "alice", "iss": _JWT_ISSUER, "aud": _JWT_AUDIENCE, "exp": _NOW + 86_400},
)


def _authenticate(token: str) -> Identity | None:
    try:
        return _LOOP.run_until_complete(_JWT.authenticate(f"Bearer {token}", _JWT_CONTEXT))
    except HttpError as error:
        if not 400 <= error.status < 500:
            raise AssertionError(f"a bad JWT got status {error.status}") from None
        return None


def jwt_text(data: bytes) -> None:
    """Any text as the bearer JWT."""
    if _authenticate(data.decode("utf-8", "replace")) is not None:
        raise AssertionError("a JWT not signed with the secret was accepted")


def jwt_mutation(data: bytes) -> None:
    """A valid JWT with bytes of the input XOR-ed into its text: never accepted once changed."""
    text = bytearray(_VALID_JWT.encode("ascii"))
    for index, value in enumerate(data[: len(text)]):
        text[index] ^= value
    token = text.decode("latin-1")
    identity = _authenticate(token)
    if token == _VALID_JWT:
        if identity is None or identity.user_id != "alice":
            raise AssertionError("the unchanged JWT was refused")
    elif identity is not None:
        raise AssertionError("a changed JWT was accepted")


_DATES = [_NOW - 3600, _NOW - 31, _NOW - 29, _NOW, _NOW + 29, _NOW + 31, _NOW + 3600]
_CLAIM_VALUES: list[object] = [
    _JWT_ISSUER, _JWT_AUDIENCE, [_JWT_AUDIENCE], ["other", _JWT_AUDIENCE], "alice", "", 0, 7,
    -1, 1.5, True, None, [], {}, "123", float("nan"), 2**63, *_DATES,
]  # fmt: skip
_CLAIM_NAMES = ["sub", "iss", "aud", "exp", "nbf", "iat", "jti", "rooms", "publish", "other"]


def _meets_rules(claims: dict[str, object], now: float) -> bool:
    """The jwt mode's rules read plainly: what a correctly signed token must say to pass."""

    def date(name: str) -> int:
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(name)
        return int(value)

    try:
        if any(claims.get(name) is None for name in ("exp", "iss", "aud", "sub")):
            return False
        for name in ("iat", "nbf"):
            if name in claims and date(name) > now + _JWT_LEEWAY:
                return False
        if date("exp") <= now - _JWT_LEEWAY:
            return False
    except ValueError:
        return False
    audience = claims["aud"]
    names = [audience] if isinstance(audience, str) else audience
    return (
        claims["iss"] == _JWT_ISSUER
        and isinstance(names, list)
        and _JWT_AUDIENCE in names
        and all(isinstance(claims[name], str) for name in ("sub", "jti") if name in claims)
    )


def jwt_claims(data: bytes) -> None:
    """Correctly signed JWTs with any mix of claims: accepted only when every rule holds, and
    then for exactly the ``sub`` they name."""
    import atheris

    provider = atheris.FuzzedDataProvider(data)
    claims: dict[str, object] = {}
    for _ in range(provider.ConsumeIntInRange(0, 8)):
        name = provider.PickValueInList(_CLAIM_NAMES)
        if provider.ConsumeProbability() < 0.8:
            claims[name] = provider.PickValueInList(_CLAIM_VALUES)
        else:
            claims[name] = _json_value(provider)
    header: dict[str, object] = {"alg": "HS256"}
    if provider.ConsumeBool():
        header[provider.PickValueInList(["typ", "kid", "crit", "alg"])] = _json_value(provider)
    before = time.time()
    identity = _authenticate(_signed_jwt(header, claims))
    if identity is None:
        return
    if header["alg"] != "HS256" or "crit" in header:
        raise AssertionError(f"a JWT with the header {header!r} was accepted")
    if not _meets_rules(claims, before) and not _meets_rules(claims, time.time()):
        raise AssertionError(f"a JWT breaking the rules was accepted: {claims!r}")
    if identity.user_id != claims["sub"]:
        raise AssertionError("the identity is not the JWT's sub")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "token_text": token_text,
    "token_body": token_body,
    "token_mutation": token_mutation,
    "kit_token": kit_token,
    "privilege_json": privilege_json,
    "config_toml": config_toml,
    "config_env": config_env,
    "query_string": query_string,
    "json_body": json_body,
    "jwt_text": jwt_text,
    "jwt_mutation": jwt_mutation,
    "jwt_claims": jwt_claims,
}
