"""JWTs for the benchmarks: the keys (an HS256 secret, an RSA key pair, its JWKS), thousands of
distinct tokens each for its own user ID, and in-process verifiers for instruction counts.

A real deployment sees as many tokens as it has signed-in users; a benchmark that sends one
token lets any verified-token cache answer every request, so every load here rotates through
``COUNT`` tokens, each with its own ``sub`` (= the userID the request asks a ZEGO token for).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ISSUER = "https://idp.bench.invalid/"
AUDIENCE = "zego-token-bench"
KID = "bench-key-1"
COUNT = 10_000
LEEWAY = 30
KINDS = ("jwt-hs256", "jwt-rs256", "jwt-rs256-jwks")
JWKS_PATH = "/.well-known/jwks.json"


@dataclass(frozen=True)
class JwtKeys:
    """Where the keys live on disk (the servers read them from there)."""

    directory: Path

    @property
    def secret(self) -> str:
        return (self.directory / "hs256.secret").read_text()

    @property
    def private_pem(self) -> Path:
        return self.directory / "rs256.private.pem"

    @property
    def public_pem(self) -> Path:
        return self.directory / "rs256.public.pem"

    @property
    def jwks(self) -> Path:
        return self.directory / "jwks.json"

    def tokens(self, kind: str) -> Path:
        """One ``userID token`` pair a line."""
        return self.directory / f"{kind}.tokens"


def make_keys(directory: Path) -> JwtKeys:
    """A fresh HS256 secret and RSA-2048 key pair, and the JWKS that publishes the public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hs256.secret").write_text(secrets.token_urlsafe(48))
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = JwtKeys(directory)
    keys.private_pem.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    keys.public_pem.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=KID, alg="RS256", use="sig")
    keys.jwks.write_text(json.dumps({"keys": [jwk]}))
    return keys


def make_tokens(keys: JwtKeys, kind: str, count: int = COUNT) -> list[tuple[str, str]]:
    """``count`` tokens of ``kind``, user IDs ``u00000``..., valid for six hours; written to
    ``keys.tokens(kind)`` as well."""
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    now = int(time.time())
    if kind == "jwt-hs256":
        key: Any = keys.secret.encode()
        algorithm, headers = "HS256", None
    else:
        key = load_pem_private_key(keys.private_pem.read_bytes(), None)
        algorithm = "RS256"
        headers = {"kid": KID} if kind == "jwt-rs256-jwks" else None
    pairs = []
    for n in range(count):
        user_id = f"u{n:05d}"
        claims = {
            "sub": user_id,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 6 * 3600,
        }
        pairs.append((user_id, jwt.encode(claims, key, algorithm=algorithm, headers=headers)))
    keys.tokens(kind).write_text("".join(f"{u} {t}\n" for u, t in pairs))
    return pairs


def read_tokens(keys: JwtKeys, kind: str) -> list[tuple[str, str]]:
    lines = keys.tokens(kind).read_text().splitlines()
    return [(u, t) for u, t in (line.split(" ", 1) for line in lines)]


# --- in-process verifiers (bench/callgrind.py counts their instructions) -----------------------

# The directory bench/callgrind.py prepared; its inner processes read keys and tokens from it.
KEYS_DIR = "ZEGO_BENCH_JWT_DIR"


def _ours(kind: str) -> Callable[[str], object]:
    from zego_token.auth.jwt_mode import JwtAuthenticator, JwtSettings
    from zego_token.pipeline.contracts import RequestContext

    keys = _keys()
    source: dict[str, object]
    if kind == "jwt-hs256":
        os.environ["BENCH_JWT_SECRET"] = keys.secret
        source = {"algorithms": ["HS256"], "secret_env": "BENCH_JWT_SECRET"}
    else:
        source = {"algorithms": ["RS256"], "public_key_file": str(keys.public_pem)}
    settings = JwtSettings.from_mapping({"issuer": ISSUER, "audience": [AUDIENCE], **source})
    authenticator = JwtAuthenticator(settings)
    context = RequestContext(client_ip="127.0.0.1", method="GET", path="/api/token", headers={})

    def verify(token: str) -> object:
        coroutine = authenticator.authenticate(f"Bearer {token}", context)
        try:
            coroutine.send(None)
        except StopIteration as done:
            return done.value
        raise RuntimeError("the static-key JWT mode awaited something")

    return verify


def _pyjwt(kind: str) -> Callable[[str], object]:
    """PyJWT as the JWT mode called it: the key prepared by PyJWT on every call."""
    import jwt

    keys = _keys()
    algorithm = "HS256" if kind == "jwt-hs256" else "RS256"
    key: Any = keys.secret.encode() if kind == "jwt-hs256" else _public_key(keys)
    options: Any = {"require": ["exp", "iss", "aud", "sub"]}
    return lambda token: jwt.decode(
        token,
        key,
        algorithms=[algorithm],
        audience=[AUDIENCE],
        issuer=ISSUER,
        leeway=LEEWAY,
        options=options,
    )


def _joserfc(kind: str) -> Callable[[str], object]:
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import OctKey, RSAKey

    keys = _keys()
    if kind == "jwt-hs256":
        key: Any = OctKey.import_key(keys.secret.encode())
        algorithm = "HS256"
    else:
        key = RSAKey.import_key(keys.public_pem.read_bytes())
        algorithm = "RS256"
    registry = jose_jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "values": [AUDIENCE]},
        exp={"essential": True},
        sub={"essential": True},
    )

    def verify(token: str) -> object:
        decoded = jose_jwt.decode(token, key, algorithms=[algorithm])
        registry.validate(decoded.claims)
        return decoded.claims

    return verify


def _jwcrypto(kind: str) -> Callable[[str], object]:
    from jwcrypto import jwk
    from jwcrypto import jwt as jwc_jwt

    keys = _keys()
    if kind == "jwt-hs256":
        key = jwk.JWK(kty="oct", k=_b64url(keys.secret.encode()))
        algorithm = "HS256"
    else:
        key = jwk.JWK.from_pem(keys.public_pem.read_bytes())
        algorithm = "RS256"
    checks = {"iss": ISSUER, "aud": AUDIENCE, "exp": None, "sub": None}

    def verify(token: str) -> object:
        # jwcrypto's leeway is its own default (60 s); it has no argument for it
        verified = jwc_jwt.JWT(jwt=token, key=key, algs=[algorithm], check_claims=checks)
        return json.loads(verified.claims)

    return verify


def _oxyjwt(kind: str) -> Callable[[str], object]:
    """oxyjwt: PyJWT's interface over a Rust core (a binary wheel)."""
    import importlib

    module: Any = importlib.import_module("oxyjwt")
    keys = _keys()
    algorithm = "HS256" if kind == "jwt-hs256" else "RS256"
    key: Any = keys.secret.encode() if kind == "jwt-hs256" else keys.public_pem.read_bytes()
    options: Any = {"require": ["exp", "iss", "aud", "sub"]}
    return lambda token: module.decode(
        token,
        key,
        algorithms=[algorithm],
        audience=[AUDIENCE],
        issuer=ISSUER,
        leeway=LEEWAY,
        options=options,
    )


VERIFIERS: dict[str, Callable[[str], Callable[[str], object]]] = {
    f"{library} {kind}": (lambda kind, make=make: make(kind))
    for library, make in (
        ("ours", _ours),
        ("pyjwt", _pyjwt),
        ("joserfc", _joserfc),
        ("jwcrypto", _jwcrypto),
        ("oxyjwt", _oxyjwt),
    )
    for kind in ("jwt-hs256", "jwt-rs256")
}


def verifier_call(name: str) -> Callable[[], object]:
    """A call that verifies the next of the prepared tokens (each distinct) and checks that it
    was accepted for its user ID."""
    kind = name.split(" ")[1]
    verify = VERIFIERS[name](kind)
    pairs: Iterator[tuple[str, str]] = itertools.cycle(read_tokens(_keys(), kind))

    def call() -> object:
        user_id, token = next(pairs)
        result = verify(token)
        subject = getattr(result, "user_id", None) or result["sub"]  # type: ignore[index]
        if subject != user_id:
            raise RuntimeError(f"{name} accepted a token for {subject!r}, not {user_id!r}")
        return result

    return call


def prepare(directory: Path, count: int) -> None:
    """Keys and ``count`` tokens of each kind, for the inner processes (``KEYS_DIR``)."""
    keys = make_keys(directory)
    for kind in ("jwt-hs256", "jwt-rs256"):
        make_tokens(keys, kind, count)
    os.environ[KEYS_DIR] = str(directory)


def _keys() -> JwtKeys:
    return JwtKeys(Path(os.environ[KEYS_DIR]))


def _public_key(keys: JwtKeys) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(keys.public_pem.read_bytes())


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@contextlib.contextmanager
def serve_jwks(keys: JwtKeys) -> Iterator[str]:
    """Serve ``keys.jwks`` on loopback, as an identity provider does; yields its URL. Both
    servers fetch it once and keep it (ours for jwks_cache_seconds, get-jwks for a minute)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = keys.jwks.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == JWKS_PATH else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{JWKS_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
