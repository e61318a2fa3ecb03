"""The jwt authentication mode: configuration checks, every refusal's code, grants, JWKS cache."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider
from zego_token.auth.jwt_mode import JwtAuthenticator, JwtSettings, bearer_jwt
from zego_token.pipeline.contracts import Identity, RequestContext
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.schema import ConfigError

CONTEXT = RequestContext(client_ip="127.0.0.1", method="GET", path="/api/token", headers={})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


def settings(**values: Any) -> JwtSettings:
    data: dict[str, Any] = {"algorithms": ["RS256"], "issuer": ISSUER, "audience": [AUDIENCE]}
    data.update(values)
    return JwtSettings.from_mapping(data)


def jwks_auth(idp: IdentityProvider, **values: Any) -> JwtAuthenticator:
    return JwtAuthenticator(settings(jwks_url=idp.jwks_url, **values))


def authenticate(auth: JwtAuthenticator, token: str) -> Identity | None:
    return asyncio.run(auth.authenticate(f"Bearer {token}", CONTEXT))


def refusal(auth: JwtAuthenticator, token: str) -> HttpError:
    with pytest.raises(HttpError) as caught:
        authenticate(auth, token)
    return caught.value


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"algorithms": ["none"], "jwks_url": "https://x/j"}, "auth.jwt.algorithms", "never"),
        ({"algorithms": ["HS256"], "jwks_url": "https://x/j"}, "auth.jwt.algorithms", "fit"),
        ({"algorithms": ["RS256"], "secret_env": "X"}, "auth.jwt.algorithms", "fit"),
        ({"algorithms": ["XX1"], "jwks_url": "https://x/j"}, "auth.jwt.algorithms", "unknown"),
        ({"algorithms": [], "jwks_url": "https://x/j"}, "auth.jwt.algorithms", "required"),
        ({"issuer": "", "jwks_url": "https://x/j"}, "auth.jwt.issuer", "required"),
        ({}, "auth.jwt.jwks_url", "exactly one"),
        (
            {"jwks_url": "https://x/j", "public_key_file": "k.pem"},
            "auth.jwt.jwks_url",
            "exactly one",
        ),
        ({"jwks_url": "file:///etc/passwd"}, "auth.jwt.jwks_url", "https"),
        ({"jwks_url": "https://x/j", "leeway": -1}, "auth.jwt.leeway", "0..600"),
        ({"jwks_url": "https://x/j", "leeway": "30"}, "auth.jwt.leeway", "integer"),
        ({"jwks_url": "https://x/j", "colour": "red"}, "auth.jwt.colour", "unknown key"),
    ],
)
def test_bad_settings_name_the_key(values: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**values)
    assert caught.value.key == key
    assert words in caught.value.message


def test_audience_may_be_one_string() -> None:
    assert settings(audience="app", jwks_url="https://x/j").audience == ("app",)


def test_short_hmac_secret_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_JWT_SECRET", "hunter2-short")
    with pytest.raises(ConfigError) as caught:
        JwtAuthenticator(settings(algorithms=["HS256"], secret_env="APP_JWT_SECRET"))
    assert caught.value.key == "auth.jwt.secret_env"
    assert "at least 32" in caught.value.message
    assert "hunter2" not in str(caught.value)


def test_unset_secret_env_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    with pytest.raises(ConfigError, match="NOPE_SECRET is empty or unset"):
        JwtAuthenticator(settings(algorithms=["HS256"], secret_env="NOPE_SECRET"))


def test_private_key_file_is_refused(idp: IdentityProvider, tmp_path: Path) -> None:
    path = tmp_path / "private.pem"
    path.write_bytes(
        idp.keys["key-1"].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="private key"):
        JwtAuthenticator(settings(public_key_file=str(path)))


def test_pem_key_must_fit_the_algorithms(idp: IdentityProvider, tmp_path: Path) -> None:
    pem = idp.write_public_pem(tmp_path)
    with pytest.raises(ConfigError) as caught:
        JwtAuthenticator(settings(algorithms=["ES256"], public_key_file=str(pem)))
    assert caught.value.key == "auth.jwt.algorithms"
    assert "RSA" in caught.value.message


def test_missing_pem_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        JwtAuthenticator(settings(public_key_file=str(tmp_path / "absent.pem")))


# --- recognising the credential -------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer zt_live_abcdef0123456789", "Basic dXNlcjpwYXNz", "Bearer a.b"],
)
def test_other_credentials_are_left_to_the_next_mode(header: str | None) -> None:
    assert bearer_jwt(header) is None


def test_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_jwt("bearer aaa.bbb.ccc") == "aaa.bbb.ccc"
    assert bearer_jwt("Bearer aaa.bbb.") == "aaa.bbb."


# --- accepted tokens ------------------------------------------------------------------------


def test_rs256_via_jwks_gives_the_subject_as_user_id(idp: IdentityProvider) -> None:
    auth = jwks_auth(idp)
    identity = authenticate(auth, idp.rs256(idp.claims(sub="alice")))
    assert identity is not None
    assert (identity.method, identity.subject, identity.user_id) == ("jwt", "alice", "alice")
    assert identity.grants.room_patterns is None and identity.grants.publish is None


def test_hs256_with_a_secret_file(idp: IdentityProvider, tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    path.write_bytes(idp.hmac_secret + b"\n")
    auth = JwtAuthenticator(settings(algorithms=["HS256"], secret_file=str(path)))
    identity = authenticate(auth, idp.hs256(idp.claims(sub="bob")))
    assert identity is not None and identity.user_id == "bob"


def test_pem_public_key(idp: IdentityProvider, tmp_path: Path) -> None:
    auth = JwtAuthenticator(settings(public_key_file=str(idp.write_public_pem(tmp_path))))
    identity = authenticate(auth, idp.rs256(idp.claims(sub="carol")))
    assert identity is not None and identity.user_id == "carol"


def test_grants_come_from_the_configured_claims(idp: IdentityProvider) -> None:
    auth = jwks_auth(
        idp,
        user_id_claim="uid",
        rooms_claim="rooms",
        publish_claim="can_publish",
        stream_ids_claim="streams",
        max_ttl_claim="zego_ttl",
    )
    claims = idp.claims(
        uid="u-42", rooms=["team-*", "lobby"], can_publish=True, streams=["s-*"], zego_ttl=900
    )
    identity = authenticate(auth, idp.rs256(claims))
    assert identity is not None
    assert identity.user_id == "u-42"
    assert identity.grants.room_patterns == ("team-*", "lobby")
    assert identity.grants.publish is True
    assert identity.grants.stream_ids == ("s-*",)
    assert identity.grants.max_ttl == 900


def test_configured_grant_claims_absent_grant_nothing(idp: IdentityProvider) -> None:
    auth = jwks_auth(idp, rooms_claim="rooms", publish_claim="can_publish")
    identity = authenticate(auth, idp.rs256(idp.claims()))
    assert identity is not None
    assert identity.grants.room_patterns == ()
    assert identity.grants.publish is False


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"rooms": 5}, "token_invalid_claim"),
        ({"can_publish": "yes"}, "token_invalid_claim"),
        ({"sub": ""}, "token_invalid_claim"),
        ({"sub": None}, "token_missing_claim"),
    ],
)
def test_badly_typed_claims(idp: IdentityProvider, claims: dict[str, Any], code: str) -> None:
    auth = jwks_auth(idp, rooms_claim="rooms", publish_claim="can_publish")
    error = refusal(auth, idp.rs256(idp.claims(**claims)))
    assert (error.status, error.code) == (401, code)


# --- every attack gets 401 with its own code ------------------------------------------------


def test_each_attack_has_a_distinct_401_code(idp: IdentityProvider) -> None:
    auth = jwks_auth(idp)
    seen = {}
    tokens = idp.attack_tokens()
    confusion = tokens.pop("algorithm_confusion")
    assert refusal(auth, confusion).code == "token_algorithm_not_allowed"
    for expected, token in tokens.items():
        error = refusal(auth, token)
        seen[expected] = error.code
        assert error.status == 401
        assert error.headers["WWW-Authenticate"].startswith("Bearer")
        assert token not in error.message
    assert seen == {code: code for code in seen}
    assert len(set(seen.values())) == 10


def test_algorithm_confusion_is_refused_with_a_pem_key(
    idp: IdentityProvider, tmp_path: Path
) -> None:
    auth = JwtAuthenticator(settings(public_key_file=str(idp.write_public_pem(tmp_path))))
    assert refusal(auth, idp.confused(idp.claims())).code == "token_algorithm_not_allowed"
    jwks = jwks_auth(idp)
    assert refusal(jwks, idp.confused(idp.claims())).code == "token_algorithm_not_allowed"


def test_hs256_signed_with_another_secret(idp: IdentityProvider, tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_bytes(idp.hmac_secret)
    auth = JwtAuthenticator(settings(algorithms=["HS256"], secret_file=str(path)))
    forged = idp.hs256(idp.claims(), secret=b"x" * 32)
    assert refusal(auth, forged).code == "token_bad_signature"


def test_leeway_accepts_small_clock_skew(idp: IdentityProvider) -> None:
    auth = jwks_auth(idp, leeway=60)
    now = int(time.time())
    assert authenticate(auth, idp.rs256(idp.claims(exp=now - 30))) is not None
    assert refusal(auth, idp.rs256(idp.claims(exp=now - 90))).code == "token_expired"


# --- the JWKS cache -------------------------------------------------------------------------


def test_jwks_is_cached_and_refreshed_once_for_a_new_kid(idp: IdentityProvider) -> None:
    auth = jwks_auth(idp)

    async def scenario() -> None:
        for _ in range(5):
            await auth.authenticate("Bearer " + idp.rs256(idp.claims()), CONTEXT)
        assert idp.fetches == 1
        idp.add_key("key-2")  # the provider rotates
        identity = await auth.authenticate(
            "Bearer " + idp.rs256(idp.claims(sub="dora"), kid="key-2"), CONTEXT
        )
        assert identity is not None and identity.user_id == "dora"
        assert idp.fetches == 2

    asyncio.run(scenario())


def test_unknown_kids_cannot_flood_the_provider(idp: IdentityProvider) -> None:
    auth = jwks_auth(idp)  # jwks_refresh_interval = 1: at most a fetch a second
    idp.add_key("rogue", publish=False)

    async def rogue() -> str:
        with pytest.raises(HttpError) as caught:
            await auth.authenticate("Bearer " + idp.rs256(idp.claims(), kid="rogue"), CONTEXT)
        return caught.value.code

    async def scenario() -> float:
        await auth.authenticate("Bearer " + idp.rs256(idp.claims()), CONTEXT)
        started = time.monotonic()
        codes: list[str] = []
        while time.monotonic() - started < 2.5:
            codes += await asyncio.gather(*(rogue() for _ in range(20)))
        assert set(codes) == {"token_unknown_kid"}
        return time.monotonic() - started

    spent = asyncio.run(scenario())
    # The first fetch, then at most one per second of made-up kids (plus the one in flight).
    assert idp.fetches <= 2 + math.ceil(spent), (idp.fetches, spent)


def test_outage_keeps_cached_keys_and_fails_closed_without_them(idp: IdentityProvider) -> None:
    auth = jwks_auth(idp, jwks_cache_seconds=1)

    async def scenario() -> None:
        assert await auth.ready()
        idp.down = True
        await asyncio.sleep(1.1)  # the cache is stale: a refresh is attempted and fails
        identity = await auth.authenticate("Bearer " + idp.rs256(idp.claims()), CONTEXT)
        assert identity is not None  # the cached key still applies

    asyncio.run(scenario())

    cold = jwks_auth(idp)

    async def cold_start() -> None:
        assert not await cold.ready()
        with pytest.raises(HttpError) as caught:
            await cold.authenticate("Bearer " + idp.rs256(idp.claims()), CONTEXT)
        assert (caught.value.status, caught.value.code) == (503, "jwks_unavailable")

    asyncio.run(cold_start())


def test_unreachable_jwks_host_is_503_not_500() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    auth = JwtAuthenticator(settings(jwks_url=f"http://127.0.0.1:{port}/jwks", jwks_timeout=1.0))
    provider = IdentityProvider()
    error = refusal(auth, provider.rs256(provider.claims()))
    assert (error.status, error.code) == (503, "jwks_unavailable")
