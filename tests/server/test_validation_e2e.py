"""Who may get which token, over real HTTP: JWT (JWKS and HS256), policy, rate limits (Redis).

Every server here is the real ``python -m zego_token.server`` process on a free loopback port;
the identity provider is a real HTTP server serving its JWKS; Redis is a real redis-server.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider
from tests.fixtures.processes import end_group, spawn
from tests.fixtures.redis_server import free_port
from zego_token import decode_token04, privilege_payload

APP_ID = 1234567890
SECRET = secrets.token_hex(16)  # a fresh 32-character ServerSecret per run

Serve = Callable[..., str]


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """Start ``python -m zego_token.server`` with a TOML config; return its base URL."""
    processes: list[subprocess.Popen[bytes]] = []
    directory = tmp_path_factory.mktemp("servers")

    def start(config: str, *, env: dict[str, str] | None = None, workers: int = 1) -> str:
        path = directory / f"config-{len(processes)}.toml"
        path.write_text(config)
        port = free_port()
        environment = {
            **os.environ,
            "ZEGO_APP_ID": str(APP_ID),
            "ZEGO_SERVER_SECRET": SECRET,
            **(env or {}),
        }
        log = (directory / f"server-{len(processes)}.log").open("wb")
        process = spawn(
            [
                sys.executable,
                "-m",
                "zego_token.server",
                "--config",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"server exited: {(directory / f'server-{len(processes) - 1}.log').read_text()}"
                )
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                time.sleep(0.05)
        pytest.fail("server did not start within 30 s")

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        end_group(process, timeout=15)


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


def jwt_config(key_source: str, algorithms: str = '["RS256"]', extra: str = "") -> str:
    return f"""
[auth]
modes = ["jwt"]

[auth.jwt]
algorithms = {algorithms}
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
{key_source}
rooms_claim = "rooms"
publish_claim = "publish"

[policy]
room_patterns = ["team-*", "lobby"]
{extra}
"""


@pytest.fixture(scope="module")
def jwks_server(serve: Serve, idp: IdentityProvider) -> str:
    return serve(jwt_config(f'jwks_url = "{idp.jwks_url}"'))


def get_token(base: str, jwt: str, **params: str) -> httpx.Response:
    return httpx.get(
        base + "/api/token", params=params, headers={"Authorization": f"Bearer {jwt}"}, timeout=10
    )


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# --- RS256 through a JWKS served on loopback -----------------------------------------------


def test_own_user_id_in_an_allowed_room(jwks_server: str, idp: IdentityProvider) -> None:
    jwt = idp.rs256(idp.claims(sub="alice", rooms=["team-*"]))
    response = get_token(jwks_server, jwt, userID="alice", roomID="team-42", expired_ts="600")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    claims = decode_token04(response.json()["token"], SECRET)
    assert (claims.app_id, claims.user_id) == (APP_ID, "alice")
    assert claims.expire == response.json()["expire"]
    assert claims.payload == privilege_payload("team-42", login=True, publish=False)


def test_another_user_id_is_403(jwks_server: str, idp: IdentityProvider) -> None:
    jwt = idp.rs256(idp.claims(sub="alice", rooms=["team-*"]))
    response = get_token(jwks_server, jwt, userID="mallory", roomID="team-42")
    assert (response.status_code, error_code(response)) == (403, "user_id_not_allowed")


@pytest.mark.parametrize(
    ("rooms", "room", "expected"),
    [
        (["team-*"], "team-7", 200),
        (["team-*"], "lobby", 403),  # the policy allows it, the user's grant does not
        (["team-*", "admin"], "admin", 403),  # the grant allows it, the policy does not
        ([], "team-7", 403),
    ],
)
def test_only_rooms_both_the_grant_and_the_policy_allow(
    jwks_server: str, idp: IdentityProvider, rooms: list[str], room: str, expected: int
) -> None:
    jwt = idp.rs256(idp.claims(sub="alice", rooms=rooms))
    response = get_token(jwks_server, jwt, userID="alice", roomID=room)
    assert response.status_code == expected, response.text
    if expected == 403:
        assert error_code(response) == "room_not_allowed"


@pytest.mark.parametrize("publish_claim", [True, False, None])
def test_publish_only_when_the_claim_says_so(
    jwks_server: str, idp: IdentityProvider, publish_claim: bool | None
) -> None:
    jwt = idp.rs256(idp.claims(sub="host1", rooms=["team-*"], publish=publish_claim))
    asked = get_token(jwks_server, jwt, userID="host1", roomID="team-1", publish="1")
    if publish_claim:
        assert asked.status_code == 200, asked.text
        claims = decode_token04(asked.json()["token"], SECRET)
        assert claims.payload == privilege_payload("team-1", login=True, publish=True)
        assert claims.privileges is not None and claims.privileges.publish is True
    else:
        assert (asked.status_code, error_code(asked)) == (403, "publish_not_allowed")
    viewer = get_token(jwks_server, jwt, userID="host1", roomID="team-1", publish="0")
    assert viewer.status_code == 200
    privileges = decode_token04(viewer.json()["token"], SECRET).privileges
    assert privileges is not None and privileges.publish is False


def test_each_attack_is_401_with_a_distinct_code(jwks_server: str, idp: IdentityProvider) -> None:
    codes = {}
    for name, jwt in idp.attack_tokens().items():
        response = get_token(jwks_server, jwt, userID="alice", roomID="team-1")
        assert response.status_code == 401, (name, response.text)
        assert response.headers["content-type"] == "application/json"
        codes[name] = error_code(response)
    # algorithm confusion (HS256 signed with the RSA public key) is refused by its algorithm
    assert codes.pop("algorithm_confusion") == "token_algorithm_not_allowed"
    assert codes == {name: name for name in codes}
    assert len(set(codes.values())) == 10


def test_ready_reports_the_jwks(jwks_server: str) -> None:
    response = httpx.get(jwks_server + "/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["auth.jwt"] is True


def test_auth_failures_are_counted_by_reason(jwks_server: str, idp: IdentityProvider) -> None:
    get_token(jwks_server, idp.unsigned(idp.claims()), userID="alice")
    metrics = httpx.get(jwks_server + "/metrics").text
    assert 'reason="token_algorithm_not_allowed"' in metrics


# --- HS256 with a shared secret ------------------------------------------------------------


def test_hs256_shared_secret(serve: Serve, idp: IdentityProvider, tmp_path: Path) -> None:
    base = serve(
        jwt_config('secret_env = "APP_JWT_SECRET"', algorithms='["HS256"]'),
        env={"APP_JWT_SECRET": idp.hmac_secret.hex()},
    )
    secret = idp.hmac_secret.hex().encode()
    own = idp.hs256(idp.claims(sub="bob", rooms=["lobby"]), secret=secret)
    ok = get_token(base, own, userID="bob", roomID="lobby")
    assert ok.status_code == 200, ok.text
    assert decode_token04(ok.json()["token"], SECRET).user_id == "bob"
    assert error_code(get_token(base, own, userID="alice", roomID="lobby")) == "user_id_not_allowed"
    forged = idp.hs256(idp.claims(sub="bob", rooms=["lobby"]), secret=b"f" * 64)
    response = get_token(base, forged, userID="bob", roomID="lobby")
    assert (response.status_code, error_code(response)) == (401, "token_bad_signature")
    rs = idp.rs256(idp.claims(sub="bob", rooms=["lobby"]))
    assert error_code(get_token(base, rs, userID="bob", roomID="lobby")) == (
        "token_algorithm_not_allowed"
    )


# --- rate limits ---------------------------------------------------------------------------


def limit_config(
    idp: IdentityProvider, redis_url: str = "", limit: int = 5, on_store_failure: str = "refuse"
) -> str:
    return jwt_config(
        f'jwks_url = "{idp.jwks_url}"',
        extra=f"""
[rate_limit]
per_identity = {limit}
window = 60
redis_url = "{redis_url}"
key_prefix = "e2e-{secrets.token_hex(4)}:"
on_store_failure = "{on_store_failure}"
""",
    )


async def burst(
    bases: list[str], jwt: str, per_base: int, user_id: str = "carol"
) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=10) as client:
        calls = [
            client.get(
                base + "/api/token",
                params={"userID": user_id, "roomID": "team-1"},
                headers={"Authorization": f"Bearer {jwt}"},
            )
            for base in bases
            for _ in range(per_base)
        ]
        return await asyncio.gather(*calls)


def test_rate_limit_in_one_process(serve: Serve, idp: IdentityProvider) -> None:
    base = serve(limit_config(idp, limit=5))
    jwt = idp.rs256(idp.claims(sub="carol", rooms=["team-*"]))
    responses = asyncio.run(burst([base], jwt, 12))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 5 and statuses.count(429) == 7
    refused = next(r for r in responses if r.status_code == 429)
    assert error_code(refused) == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    other = idp.rs256(idp.claims(sub="dave", rooms=["team-*"]))
    assert get_token(base, other, userID="dave", roomID="team-1").status_code == 200


def test_rate_limit_shared_by_two_processes_through_redis(
    serve: Serve, idp: IdentityProvider, redis_url: str
) -> None:
    config = limit_config(idp, redis_url=redis_url, limit=10)
    first, second = serve(config), serve(config)
    assert httpx.get(first + "/readyz").json()["checks"]["rate_limit"] is True
    # concurrent requests spread over both processes: exactly the limit gets through
    jwt = idp.rs256(idp.claims(sub="carol", rooms=["team-*"]))
    responses = asyncio.run(burst([first, second], jwt, 20))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10, "the two processes together admit exactly the limit"
    assert statuses.count(429) == 30
    # deterministic split: 6 through the first process leave 4 for the second
    jwt = idp.rs256(idp.claims(sub="gina", rooms=["team-*"]))
    assert [r.status_code for r in asyncio.run(burst([first], jwt, 6, "gina"))] == [200] * 6
    second_round = sorted(r.status_code for r in asyncio.run(burst([second], jwt, 10, "gina")))
    assert second_round == [200] * 4 + [429] * 6


def test_per_process_memory_limits_are_not_shared(serve: Serve, idp: IdentityProvider) -> None:
    """The contrast: without Redis each process keeps its own count."""
    config = limit_config(idp, limit=3)
    first, second = serve(config), serve(config)
    jwt = idp.rs256(idp.claims(sub="erin", rooms=["team-*"]))
    responses = asyncio.run(burst([first, second], jwt, 4, "erin"))
    assert sum(r.status_code == 200 for r in responses) == 6  # 3 per process


def test_redis_down_fails_closed(serve: Serve, idp: IdentityProvider) -> None:
    base = serve(limit_config(idp, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    jwt = idp.rs256(idp.claims(sub="frank", rooms=["team-*"]))
    response = get_token(base, jwt, userID="frank", roomID="team-1")
    assert (response.status_code, error_code(response)) == (503, "rate_limit_unavailable")
    assert httpx.get(base + "/readyz").status_code == 503


def test_redis_down_counts_in_memory_and_readyz_says_degraded(
    serve: Serve, idp: IdentityProvider
) -> None:
    """The default, on_store_failure = "local": one worker admits its whole limit (5) from
    memory, then 429; /readyz stays 200 and names the rate limiter as degraded."""
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    base = serve(limit_config(idp, redis_url=unreachable, on_store_failure="local"))
    jwt = idp.rs256(idp.claims(sub="frank", rooms=["team-*"]))
    statuses = [get_token(base, jwt, userID="frank", roomID="team-1").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    ready = httpx.get(base + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert "rate_limit" in ready.json()["degraded"]


def test_rate_limit_across_two_workers_of_one_server(
    serve: Serve, idp: IdentityProvider, redis_url: str
) -> None:
    base = serve(limit_config(idp, redis_url=redis_url, limit=8), workers=2)
    jwt = idp.rs256(idp.claims(sub="hank", rooms=["team-*"]))
    statuses = [r.status_code for r in asyncio.run(burst([base], jwt, 40, "hank"))]
    assert (statuses.count(200), statuses.count(429)) == (8, 32)
