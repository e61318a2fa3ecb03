"""Leak audit: a whole session against real servers with DEBUG logging, then every log line,
/metrics output, error body, response header, /openapi.json and CLI output is searched for the
ServerSecrets, API keys, the JWT signing keys (HS secret, the identity provider's RSA private
key), every credential presented and every token issued. One hit fails.

The search looks for each secret whole, percent-encoded and JSON-escaped, and for every
24-character slice of it, so a secret cut in half or wrapped still counts. The first test shows
that the scanner does find what it is meant to find.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider
from tests.server.conftest import (
    API_KEY,
    APP_ID,
    SECRET,
    RunningServer,
    server_env,
    sha256_hex,
)
from zego_token import InvalidToken, decode_token04

StartServer = Callable[..., RunningServer]
WINDOW = 24
SECOND_APP = 987654321
SECOND_SECRET = secrets.token_hex(16)
SECOND_KEY = "zt_second_" + secrets.token_urlsafe(24)
HS_SECRET = secrets.token_hex(32)  # the app's JWT signing secret (HS256), 64 characters


# -- the scanner -------------------------------------------------------------------------------


def _variants(value: str) -> set[str]:
    return {value, quote(value, safe=""), json.dumps(value)[1:-1]}


def _slices(value: str, skip: int = 0) -> set[str]:
    """Every WINDOW-long slice (stride WINDOW // 2) of ``value`` after ``skip`` characters."""
    body = value[skip:]
    if len(body) <= WINDOW:
        return {body} if body else set()
    slices = {body[i : i + WINDOW] for i in range(0, len(body) - WINDOW + 1, WINDOW // 2)}
    slices.add(body[-WINDOW:])
    return slices


@dataclass
class Needle:
    name: str
    value: str
    skip: int = 0  # leading characters that are not secret (a token's public header)

    def probes(self) -> set[str]:
        return {s for v in _variants(self.value) for s in _slices(v, self.skip)}


@dataclass
class Audit:
    needles: list[Needle] = field(default_factory=list)
    haystacks: dict[str, str] = field(default_factory=dict)

    def secret(self, name: str, value: str, skip: int = 0) -> None:
        assert len(value) - skip >= 8, name
        self.needles.append(Needle(name, value, skip))

    def token(self, value: str) -> None:
        # "04" + base64 of expire, IV length, IV and ciphertext length: public, and shared by
        # tokens minted in the same second; the ciphertext after it is what must not leak.
        self.secret(f"issued token {value[:12]}...", value, skip=34)

    def text(self, name: str, value: str) -> None:
        self.haystacks[name] = self.haystacks.get(name, "") + value + "\n"

    def leaks(self) -> list[tuple[str, str, str]]:
        found = []
        for needle in self.needles:
            for probe in needle.probes():
                for where, text in self.haystacks.items():
                    if probe in text:
                        found.append((needle.name, where, probe))
        return found


def test_the_scanner_finds_planted_secrets() -> None:
    audit = Audit()
    audit.secret("ServerSecret", SECRET)
    audit.secret("API key", API_KEY)
    pem = IdentityProvider().keys["key-1"]
    pem_text = pem.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    audit.secret("RSA private key", "".join(pem_text.splitlines()[1:-1]))
    token = "04AAAAAGsNA4AADO5n3Se9uhZt2VwYugDROEZa4u5AXFzWcYUYA5hqNQniKj+/9f8gH1Qw9v3kd=="
    audit.token(token)
    audit.text("clean log", '{"msg":"request","user_id":"alice","auth":"api_key:backend"}')
    assert audit.leaks() == []
    middle = pem_text.splitlines()[10]
    audit.text("planted", f'{{"msg":"oops","detail":"{SECRET}"}}')
    audit.text("url", "GET /x?k=" + quote("zt_test_key_7Qm2Xr9LpV4sNw8Kd3Hf", safe=""))
    audit.text("pem line", f"error: {middle[5:40]}")
    audit.text("half token", f"token={token[40:75]}")
    found = {(name, where) for name, where, _ in audit.leaks()}
    assert found == {
        ("ServerSecret", "planted"),
        ("API key", "url"),
        ("RSA private key", "pem line"),
        ("issued token 04AAAAAGsNA4...", "half token"),
    }


# -- the session -------------------------------------------------------------------------------


class Session:
    """Sends requests, remembering every token issued, credential sent and error answered."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit
        self.client = httpx.Client(timeout=10)
        self.statuses: list[int] = []

    def call(self, method: str, url: str, *, credential: str | None = None, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if credential is not None:
            headers["Authorization"] = f"Bearer {credential}"
            self.audit.secret(f"credential {credential[:10]}...", credential)
        response = self.client.request(method, url, headers=headers, **kw)
        self.statuses.append(response.status_code)
        where = f"{method} {url.split('?')[0]} -> {response.status_code}"
        self.audit.text(
            where + " headers", "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        )
        if response.status_code >= 400:
            self.audit.text(where + " body", response.text)
        elif response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
            for key in ("token", "kitToken"):
                if isinstance(body, dict) and key in body:
                    self.audit.token(body[key])
        return response


def hs_config() -> str:
    return f"""
[[apps]]
app_id = {SECOND_APP}
secret = "{SECOND_SECRET}"

[auth]
modes = ["jwt", "api_key"]

[[auth.api_keys]]
name = "backend"
sha256 = "{sha256_hex(API_KEY)}"

[[auth.api_keys]]
name = "scoped"
sha256 = "{sha256_hex(SECOND_KEY)}"
app_ids = [{SECOND_APP}]
room_patterns = ["team-*"]
publish = false

[auth.jwt]
algorithms = ["HS256"]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
secret_env = "APP_JWT_SECRET"
rooms_claim = "rooms"

[rate_limit]
per_identity = 40
window = 60

[cors]
origins = ["https://app.example"]

[demo]
enabled = true

[logging]
level = "debug"
"""


def jwks_config(idp: IdentityProvider) -> str:
    return f"""
[auth]
modes = ["jwt"]

[auth.jwt]
algorithms = ["RS256"]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
jwks_url = "{idp.jwks_url}"

[logging]
level = "debug"
"""


def run_session_hs(base: str, s: Session, idp: IdentityProvider) -> None:
    api = f"{base}/api/token"
    kit = f"{base}/api/kit-token"
    json_headers = {"Content-Type": "application/json"}
    # successes: both endpoints, both methods, both apps, API keys and a JWT
    s.call("GET", api, credential=API_KEY, params={"userID": "alice", "expired_ts": "600"})
    s.call("GET", api, credential=API_KEY, params={"userID": "bob", "roomID": "r1", "publish": 1})
    s.call(
        "POST",
        api,
        credential=API_KEY,
        headers=json_headers,
        content=json.dumps({"user_id": "carol", "ttl": 3600, "app_id": SECOND_APP}),
    )
    s.call(
        "GET",
        kit,
        credential=API_KEY,
        params={"userID": "dave", "roomID": "r2", "userName": "Dave"},
    )
    s.call(
        "POST",
        kit,
        credential=API_KEY,
        headers=json_headers,
        content=json.dumps({"user_id": "erin", "room_id": "r3"}),
    )
    s.call(
        "GET",
        api,
        credential=SECOND_KEY,
        params={"userID": "frank", "roomID": "team-1", "appID": SECOND_APP},
    )
    hs_key = HS_SECRET.encode()
    good_jwt = idp.hs256(idp.claims(sub="gina", rooms=["r*"]), secret=hs_key)
    s.call("GET", api, credential=good_jwt, params={"userID": "gina", "roomID": "r9"})
    # refusals of every kind
    s.call("GET", api, credential=good_jwt, params={"userID": "mallory"})  # 403 other user
    s.call("GET", api, credential=good_jwt, params={"userID": "gina", "roomID": "x"})  # 403
    expired = idp.hs256(idp.claims(sub="gina", exp=int(time.time()) - 3600), secret=hs_key)
    s.call("GET", api, credential=expired, params={"userID": "gina"})
    s.call("GET", api, credential=good_jwt[:-4] + "AAAA", params={"userID": "gina"})
    s.call("GET", api, credential=idp.unsigned(idp.claims(sub="gina")), params={"userID": "gina"})
    forged = idp.hs256(idp.claims(sub="gina"), secret=b"x" * 32)
    s.call("GET", api, credential=forged, params={"userID": "gina"})
    s.call("GET", api, credential=API_KEY + "x", params={"userID": "alice"})  # near miss
    s.call("GET", api, credential=API_KEY[:-1], params={"userID": "alice"})
    s.call("GET", api, credential=SECOND_KEY, params={"userID": "h", "roomID": "lobby"})  # 403
    s.call("GET", api, params={"userID": "alice"})  # no credential: 401
    s.call("GET", api, headers={"Authorization": f"Basic {API_KEY}"}, params={"userID": "a"})
    issued = next(n.value for n in s.audit.needles if n.name.startswith("issued token"))
    s.call("GET", api, credential=issued, params={"userID": "alice"})  # a token as a key: 401
    s.call("GET", api, credential=API_KEY, params={"userID": issued})  # a token as a user ID
    s.call("GET", api, credential=API_KEY, params={"userID": "alice", "expired_ts": "999999"})
    s.call("GET", api, credential=API_KEY, params={"userID": "alice", "appID": "42"})
    s.call("POST", api, credential=API_KEY, content=b"{}", headers={"Content-Type": "text/plain"})
    s.call(
        "POST",
        api,
        credential=API_KEY,
        headers=json_headers,
        content=b'{"user_id": "a", "ttl": "' + SECRET.encode() + b'"}',
    )  # a secret as a TTL
    s.call("POST", api, credential=API_KEY, headers=json_headers, content=b"{" * 20_000)
    s.call("POST", api, credential=API_KEY, headers=json_headers, content=b"not json")
    s.call("DELETE", api, credential=API_KEY)
    s.call("GET", f"{base}/nowhere", credential=API_KEY)  # 404
    s.call(
        "OPTIONS",
        api,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    # the demo's inspector: a real token, a tampered one, and a token of the second app
    inspect = f"{base}/api/debug/inspect"
    s.call(
        "POST",
        inspect,
        credential=API_KEY,
        headers=json_headers,
        content=json.dumps({"token": issued}),
    )
    s.call(
        "POST",
        inspect,
        credential=API_KEY,
        headers=json_headers,
        content=json.dumps({"token": issued[:-8] + "AAAAAAA="}),
    )
    # the rate limit: 429 with Retry-After
    for _ in range(45):
        s.call("GET", api, credential=API_KEY, params={"userID": "zed"})
    # operations
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        response = s.call("GET", base + path)
        s.audit.text(f"GET {path} body", response.text)


def run_session_jwks(base: str, s: Session, idp: IdentityProvider) -> None:
    api = f"{base}/api/token"
    s.call("GET", api, credential=idp.rs256(idp.claims(sub="ivy")), params={"userID": "ivy"})
    for name, token in idp.attack_tokens().items():
        if name != "token_too_large":
            s.call("GET", api, credential=token, params={"userID": "alice"})
    for path in ("/readyz", "/metrics", "/openapi.json"):
        s.audit.text(f"jwks GET {path} body", s.call("GET", base + path).text)


def cli(audit: Audit, name: str, args: list[str], env: Mapping[str, str | None]) -> str:
    binary = Path(sys.executable).with_name("zego-token")
    result = subprocess.run(
        [str(binary), *args],
        env=server_env(env, app=False),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    audit.text(f"cli {name} (exit {result.returncode})", result.stdout + result.stderr)
    return result.stdout


def run_cli(audit: Audit, tmp_path: Path, issued: list[str]) -> None:
    env = {"ZEGO_SERVER_SECRET": SECRET}
    base = ["--app-id", str(APP_ID)]
    cli(audit, "generate", ["generate", *base, "--user-id", "alice"], env)
    cli(
        audit,
        "generate --json",
        ["generate", *base, "--user-id", "a", "--room", "r", "--json"],
        env,
    )
    cli(audit, "generate --secret", ["generate", *base, "--user-id", "a", "--secret", SECRET], {})
    cli(audit, "kit", ["kit", *base, "--user-id", "a", "--room", "r"], env)
    cli(
        audit,
        "generate, bad secret",
        ["generate", *base, "--user-id", "a"],
        {"ZEGO_SERVER_SECRET": SECRET[:-1]},
    )
    for token in issued[:3]:
        cli(audit, "inspect", ["inspect", token], env)
        cli(audit, "inspect --json", ["inspect", "--json", token], env)
        cli(
            audit, "inspect, wrong secret", ["inspect", token], {"ZEGO_SERVER_SECRET": SECRET[::-1]}
        )
        cli(audit, "inspect, no secret", ["inspect", "--json", token], {})
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET + "\n")
    cli(
        audit,
        "generate --secret-file",
        ["generate", *base, "--user-id", "a", "--secret-file", str(secret_file)],
        {},
    )
    # serve, refusing to start: the message names the key, never the value
    refusals = {
        "short secret": ({"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET[:-1]}, ""),
        "raw key as hash": (
            {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET},
            f'[[auth.api_keys]]\nname = "k"\nsha256 = "{API_KEY}"\n',
        ),
        "unterminated secret": (
            {"ZEGO_APP_ID": str(APP_ID)},
            f'[[apps]]\napp_id = 7\nsecret = "{SECOND_SECRET}\n',
        ),
        "secret in an unknown key": (
            {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET},
            f'[server]\nsecret = "{SECOND_SECRET}"\n',
        ),
        "short HS secret": (
            {
                "ZEGO_APP_ID": str(APP_ID),
                "ZEGO_SERVER_SECRET": SECRET,
                "APP_JWT_SECRET": HS_SECRET[:20],
            },
            '[auth.jwt]\nalgorithms = ["HS256"]\nissuer = "i"\naudience = ["a"]\n'
            'secret_env = "APP_JWT_SECRET"\n',
        ),
    }
    for name, (env_vars, config) in refusals.items():
        args = ["serve", "--host", "127.0.0.1", "--port", "0"]
        if config:
            path = tmp_path / f"{name.replace(' ', '-')}.toml"
            path.write_text(config)
            args += ["--config", str(path)]
        cli(audit, f"serve, {name}", args, {**env_vars, "ZEGO_TOKEN_LOGGING_LEVEL": "debug"})


@pytest.mark.slow
def test_no_secret_key_or_token_leaks_anywhere(start_server: StartServer, tmp_path: Path) -> None:
    idp = IdentityProvider().start()
    try:
        audit = Audit()
        audit.secret("ServerSecret", SECRET)
        audit.secret("second ServerSecret", SECOND_SECRET)
        audit.secret("API key", API_KEY)
        audit.secret("scoped API key", SECOND_KEY)
        audit.secret("JWT HS secret", HS_SECRET)
        audit.secret("JWT HS secret bytes", idp.hmac_secret.hex())
        for kid, key in idp.keys.items():
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            audit.secret(f"RSA private key {kid}", "".join(pem.splitlines()[1:-1]))
            numbers = key.private_numbers()
            audit.secret(f"RSA d {kid}", format(numbers.d, "x"))

        hs = start_server(hs_config(), env={"APP_JWT_SECRET": HS_SECRET})
        jwks = start_server(jwks_config(idp))
        session = Session(audit)
        run_session_hs(hs, session, idp)
        run_session_jwks(jwks, session, idp)
        issued = [n.value for n in audit.needles if n.name.startswith("issued token")]
        assert len(issued) >= 40, "the session issued too few tokens to be a real session"
        for token in issued:  # real tokens were collected: each opens with its app's secret
            try:
                assert decode_token04(token.split("#")[0], SECRET).app_id == APP_ID
            except InvalidToken:
                assert decode_token04(token, SECOND_SECRET).app_id == SECOND_APP
        statuses = set(session.statuses)
        assert {200, 400, 401, 403, 404, 405, 415, 422, 429} <= statuses, statuses
        run_cli(audit, tmp_path, issued)

        for server in (hs, jwks):
            server.terminate()
            server.wait_exit()
        audit.text("hs server output", hs.output())
        audit.text("jwks server output", jwks.output())
        debug_lines = [r for r in hs.records() if r.get("level") == "debug"]
        request_lines = [r for r in hs.records() if r.get("msg") == "request"]
        assert len(request_lines) >= 80, "DEBUG logging must log every request"

        leaks = audit.leaks()
        lines = sum(text.count("\n") for text in audit.haystacks.values())
        print(
            f"leak audit: {len(audit.needles)} secrets and tokens, {len(audit.haystacks)} "
            f"sources, {lines} lines, {len(session.statuses)} requests, "
            f"{len(debug_lines)} debug lines, {len(leaks)} leaks"
        )
        report = sorted({(n.split(" 04")[0], w) for n, w, _ in leaks})
        assert leaks == [], "\n".join(f"{n} in {w}" for n, w in report[:40])
    finally:
        idp.stop()
