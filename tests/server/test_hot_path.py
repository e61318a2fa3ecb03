"""The hot path's shortcuts keep every check: the in-memory limits and the policy
answered without a coroutine, accepted API keys remembered per Authorization header, the access
log's cached fragments, the library core the server mints with, and the event loop under Granian."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.conftest import API_KEY, APP_ID, SECRET, StartServer, api_key_config, bearer
from tests.server.test_app_inprocess import Pipe, call, make_app
from zego_token import decode_token04, generate_token04
from zego_token.auth.chain import (
    MAX_REMEMBERED_HEADER,
    RECENT_CREDENTIALS,
    RECENT_SECONDS,
    AuthChain,
)
from zego_token.auth.keys import ApiKey, ApiKeyAuth
from zego_token.errors import InvalidParameter
from zego_token.integrations._endpoint import EmbeddedExchange
from zego_token.pipeline.contracts import Identity, ImmediateDecider, RequestContext, TokenRequest
from zego_token.pipeline.core import RateLimits, TokenPipeline
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.policy import PolicyDecider
from zego_token.pipeline.ratelimit import MemoryRateLimiter, RateLimitSettings
from zego_token.server import logs
from zego_token.server.logs import Logger
from zego_token.server.redis_limiter import RedisRateLimiter
from zego_token.token04 import mint_token04

CONTEXT = RequestContext(client_ip="127.0.0.1", method="GET", path="/api/token", headers={})


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    log = Pipe()
    yield log
    log.close()


# -- rate limits ------------------------------------------------------------------------------


def test_memory_limits_answer_at_once_and_refuse_over_the_limit() -> None:
    limits = RateLimits(MemoryRateLimiter(), per_ip=2, per_identity=0, window=60)
    assert limits.check("ip:10.0.0.1", 2) is None
    assert limits.check("ip:10.0.0.1", 2) is None
    with pytest.raises(HttpError) as refused:
        limits.check("ip:10.0.0.1", 2)
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert 1 <= int(refused.value.headers["retry-after"]) <= 60
    assert "at most 2 per 60 s" in refused.value.message
    assert limits.check("ip:10.0.0.2", 2) is None, "keys are counted separately"


def test_redis_limits_are_awaited_and_refuse_the_same_way(redis_url: str) -> None:
    async def scenario() -> None:
        settings = RateLimitSettings.from_mapping(
            {"redis_url": redis_url, "key_prefix": "hot-path-test:", "redis_timeout": 2.0}
        )
        limiter = RedisRateLimiter(settings, local_share=1.0)
        limits = RateLimits(limiter, per_ip=0, per_identity=1, window=60)
        first = limits.check("api_key:backend", 1)
        assert first is not None, "a remote limiter must be awaited"
        await first
        second = limits.check("api_key:backend", 1)
        assert second is not None
        with pytest.raises(HttpError) as refused:
            await second
        assert refused.value.status == 429 and refused.value.code == "rate_limited"
        await limiter.close()

    asyncio.run(scenario())


def test_memory_limiter_count_and_hit_agree() -> None:
    async def scenario() -> None:
        limiter = MemoryRateLimiter()
        assert limiter.count("k", 60)[0] == 1
        decision = await limiter.hit("k", 2, 60)
        assert (decision.allowed, decision.remaining) == (True, 0)
        count, ms_left = limiter.count("k", 60)
        assert count == 3 and 0 < ms_left <= 60_000
        assert not (await limiter.hit("k", 2, 60)).allowed

    asyncio.run(scenario())


# -- deciders ---------------------------------------------------------------------------------


class AsyncOnly:
    """A hook-like decider: awaited, never called synchronously."""

    def __init__(self) -> None:
        self.calls = 0

    async def decide(
        self, identity: Identity, request: TokenRequest, context: RequestContext
    ) -> TokenRequest:
        self.calls += 1
        return request


def test_policy_is_called_without_a_coroutine_and_hooks_are_still_awaited(pipe: Pipe) -> None:
    app = make_app(pipe)
    hook = AsyncOnly()
    identity = Identity(user_id="alice")
    pipeline: TokenPipeline[EmbeddedExchange] = TokenPipeline(
        app.settings.pipeline_config(),
        identify=lambda call: (identity, "app:alice"),
        deciders=[PolicyDecider(), hook],
    )
    assert isinstance(pipeline.deciders[0], ImmediateDecider)
    assert not isinstance(hook, ImmediateDecider)
    exchange = EmbeddedExchange(
        method="GET",
        path="/api/token",
        query=b"userID=alice",
        content_type=None,
        content_length=None,
        client="127.0.0.1",
        header_pairs=list,
    )
    pending = pipeline.issue(exchange, pipeline.from_query(b"userID=alice", "token"))
    assert inspect.isawaitable(pending) and hook.calls == 0, "the hook waits: a coroutine"
    body = asyncio.run(_awaited(pending))
    assert hook.calls == 1 and b'"token"' in body
    without_hook: TokenPipeline[EmbeddedExchange] = TokenPipeline(
        app.settings.pipeline_config(),
        identify=lambda call: (identity, "app:alice"),
        deciders=[PolicyDecider()],
    )
    at_once = without_hook.issue(exchange, without_hook.from_query(b"userID=alice", "token"))
    assert isinstance(at_once, bytes), "no step waits: no coroutine"
    status, _, _ = call(app, "GET", "/api/token", b"userID=alice")
    assert status == 200


async def _awaited(pending: object) -> bytes:
    result = await pending  # type: ignore[misc]
    assert isinstance(result, bytes)
    return result


def test_policy_decide_and_decide_now_refuse_alike() -> None:
    policy = PolicyDecider()
    own = Identity(user_id="alice")
    request = TokenRequest(app_id=APP_ID, user_id="mallory", ttl=60)
    with pytest.raises(HttpError) as now:
        policy.decide_now(own, request)
    with pytest.raises(HttpError) as later:
        asyncio.run(policy.decide(own, request, CONTEXT))
    assert now.value.code == later.value.code == "user_id_not_allowed"
    assert now.value.status == 403


# -- remembered API keys ----------------------------------------------------------------------


def key_chain() -> AuthChain:
    import hashlib

    digest = hashlib.sha256(API_KEY.encode()).digest()
    return AuthChain([ApiKeyAuth([ApiKey(name="backend", digest=digest)])])


def test_an_accepted_key_is_remembered_and_a_refused_one_never() -> None:
    chain = key_chain()
    header = f"Bearer {API_KEY}"
    assert chain.recent(header) is None
    identity = asyncio.run(chain.authenticate(header, CONTEXT))
    assert identity.subject == "backend"
    assert chain.recent(header) is identity
    wrong = f"Bearer {API_KEY[:-1]}x"
    for _ in range(3):
        with pytest.raises(HttpError) as refused:
            asyncio.run(chain.authenticate(wrong, CONTEXT))
        assert refused.value.code == "invalid_api_key"
        assert chain.recent(wrong) is None
    assert chain.recent(None) is None
    # Another spelling of the same credential is the same remembered key.
    assert chain.recent(f"bearer  {API_KEY} ") is identity


def test_a_remembered_key_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = key_chain()
    header = f"Bearer {API_KEY}"
    asyncio.run(chain.authenticate(header, CONTEXT))
    later = time.monotonic() + RECENT_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert chain.recent(header) is None


def test_remembered_keys_are_bounded() -> None:
    chain = key_chain()
    # Spaces make distinct headers that all carry the same, accepted key: one entry.
    for spaces in range(RECENT_CREDENTIALS + 5):
        asyncio.run(chain.authenticate(f"Bearer {API_KEY}" + " " * (spaces % 100), CONTEXT))
    assert len(chain._recent) == 1


def test_an_oversized_header_is_checked_but_never_remembered() -> None:
    chain = key_chain()
    padded = "Bearer " + " " * MAX_REMEMBERED_HEADER + API_KEY
    assert asyncio.run(chain.authenticate(padded, CONTEXT)).subject == "backend"
    assert chain._recent == {}
    assert chain.recent(padded) is None


def test_expired_entries_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = key_chain()
    asyncio.run(chain.authenticate(f"Bearer {API_KEY}", CONTEXT))
    later = time.monotonic() + RECENT_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert chain.recent(f"Bearer {API_KEY}") is None
    assert chain._recent == {}


class NotReusable:
    """A mode whose answers may change (as a JWT's do): never remembered."""

    name = "jwt"
    reusable = False

    async def authenticate(self, authorization: str | None, context: RequestContext) -> Identity:
        return Identity(method="jwt", subject="someone")

    async def ready(self) -> bool:
        return True


def test_modes_that_are_not_reusable_are_never_remembered() -> None:
    chain = AuthChain([NotReusable()])
    asyncio.run(chain.authenticate("Bearer eyJ.a.b", CONTEXT))
    assert chain.recent("Bearer eyJ.a.b") is None


def test_repeated_authorization_is_refused_even_for_a_remembered_key(pipe: Pipe) -> None:
    config = api_key_config()
    app = make_app(pipe, config=config)
    good = (b"authorization", f"Bearer {API_KEY}".encode())
    status, _, _ = call(app, "GET", "/api/token", b"userID=alice", headers=[good])
    assert status == 200
    status, _, body = call(app, "GET", "/api/token", b"userID=alice", headers=[good, good])
    assert status == 400 and json.loads(body)["error"]["code"] == "repeated_authorization"
    status, _, body = call(
        app, "GET", "/api/token", b"userID=alice", headers=[(b"authorization", b"Bearer nope")]
    )
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"


# -- access log -------------------------------------------------------------------------------


def lines(pipe: Pipe, logger: Logger) -> list[dict[str, Any]]:
    logger.flush()
    return [json.loads(line) for line in pipe.read().splitlines()]


def test_cached_subjects_are_still_scrubbed_and_bounded(
    pipe: Pipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = Logger("info", "json", fd=pipe.write_fd, secrets=[SECRET])
    for _ in range(2):  # the second line comes from the cache
        logger.request("GET", "/api/token", 200, 1.5, "alice", APP_ID, f"app:{SECRET}", None)
    first, second = lines(pipe, logger)
    assert first["auth"] == second["auth"] == "app:[secret]"
    assert first["path"] == "/api/token" and first["status"] == 200
    assert logs._SUBJECTS_KEPT == 4096
    monkeypatch.setattr(logs, "_SUBJECTS_KEPT", 8)  # the pipe holds the lines of a small bound
    for n in range(20):
        logger.request("GET", "/api/token", 200, 1.0, "u", APP_ID, f"api_key:k{n}", None)
        assert len(logger._subjects) <= 8
    logged = lines(pipe, logger)
    assert [line["auth"] for line in logged[2:]] == [f"api_key:k{n}" for n in range(20)]


def test_routes_and_levels_do_not_share_a_cached_fragment(pipe: Pipe) -> None:
    logger = Logger("info", "json", fd=pipe.write_fd)
    logger.request("GET", "/api/token", 200, 1.0, None, None, None, None)
    logger.request("POST", "/api/kit-token", 500, 1.0, None, None, None, "internal_error")
    ok, failed = lines(pipe, logger)
    assert (ok["method"], ok["path"], ok["level"]) == ("GET", "/api/token", "info")
    assert (failed["method"], failed["path"], failed["level"]) == (
        "POST",
        "/api/kit-token",
        "error",
    )


# -- the library core the server mints with ----------------------------------------------------


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
def test_mint_token04_is_generate_token04_with_its_expiry(mode: Any) -> None:
    token, expire = mint_token04(APP_ID, "alice", SECRET, 600, "", mode)
    claims = decode_token04(token, SECRET, app_id=APP_ID, user_id="alice")
    assert claims.expire == expire and claims.expire - claims.ctime == 600
    assert claims.mode == mode
    with pytest.raises(InvalidParameter):
        mint_token04(APP_ID, "", SECRET, 600, "", mode)  # the ID checks stay
    with pytest.raises(InvalidParameter):
        mint_token04(APP_ID, "alice", "short", 600, "", mode)  # and the secret's


def test_generate_token04_still_refuses_a_payload_that_is_not_a_string() -> None:
    with pytest.raises(InvalidParameter, match="payload"):
        generate_token04(APP_ID, "alice", SECRET, 600, {"room_id": "r"})  # type: ignore[arg-type]


# -- the event loop ----------------------------------------------------------------------------


def test_the_server_runs_uvloop_where_installed(
    start_server: StartServer,
) -> None:
    # The server extra installs uvloop but on Windows; the loop is named, never Granian's "auto".
    expected = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    if os.environ.get("CI") == "true" and sys.platform != "win32":
        assert expected == "uvloop", "the server extra installs uvloop here"
    server = start_server(api_key_config())
    reply = httpx.get(f"{server}/api/token?userID=loop&expired_ts=60", headers=bearer())
    assert reply.status_code == 200
    starting = next(r for r in server.records() if r.get("msg") == "server starting")
    assert starting["loop"] == expected
