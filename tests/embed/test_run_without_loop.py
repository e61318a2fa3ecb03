"""The pipeline answers without a coroutine when no step waits, and hands the rest to one
coroutine at the first step that does: the WSGI adapters then need no event loop for a hook-less
endpoint, and run an async hook on the thread's own loop."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest

from zego_token import TokenIssuer, decode_token04
from zego_token.integrations import Identity
from zego_token.integrations._endpoint import EmbeddedExchange, TokenEndpoint, run_on_thread_loop
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.hooks import HookContext

APP_ID = 1234567890
SECRET = "0123456789abcdef0123456789abcdef"


def issuer() -> TokenIssuer:
    return TokenIssuer(APP_ID, SECRET, default_ttl=3600, max_ttl=86400)


def call(query: bytes = b"userID=alice") -> EmbeddedExchange:
    return EmbeddedExchange(
        method="GET",
        path="/token",
        query=query,
        content_type=None,
        content_length=None,
        client="127.0.0.1",
        header_pairs=lambda: [("X-Trace", "t1"), ("Authorization", "Bearer secret")],
    )


def issue(endpoint: TokenEndpoint[object], exchange: EmbeddedExchange) -> bytes | object:
    exchange.identity = Identity(user_id="alice")
    return endpoint.pipeline.issue(exchange, endpoint.pipeline.from_query(exchange.query, "token"))


def test_without_a_hook_the_body_comes_at_once() -> None:
    endpoint: TokenEndpoint[object] = TokenEndpoint(issuer(), authorize=lambda r: None)
    body = issue(endpoint, call())
    assert isinstance(body, bytes), "no step waits: no coroutine"
    assert decode_token04(json.loads(body)["token"], SECRET).user_id == "alice"


def test_a_refusal_without_a_hook_is_raised_at_once() -> None:
    endpoint: TokenEndpoint[object] = TokenEndpoint(issuer(), authorize=lambda r: None)
    exchange = call()
    exchange.identity = Identity(user_id="bob")  # may only mint for bob
    request = endpoint.pipeline.from_query(exchange.query, "token")
    with pytest.raises(HttpError) as refused:
        endpoint.pipeline.issue(exchange, request)
    assert refused.value.code == "user_id_not_allowed"


def test_an_async_hook_makes_the_rest_an_awaitable_that_sees_the_headers() -> None:
    seen: list[dict[str, str]] = []

    async def hook(context: HookContext) -> bool:
        await asyncio.sleep(0)
        seen.append(dict(context.headers))
        return True

    endpoint: TokenEndpoint[object] = TokenEndpoint(issuer(), authorize=lambda r: None, hook=hook)
    pending = issue(endpoint, call())
    assert inspect.isawaitable(pending), "the hook waits: the rest is a coroutine"
    body = run_on_thread_loop(_awaited(pending))
    assert isinstance(body, bytes) and b'"token"' in body
    assert seen == [{"x-trace": "t1"}], "credentials never reach a hook"


def test_a_hook_refusal_comes_from_the_awaitable() -> None:
    def hook(context: HookContext) -> bool:
        return False

    endpoint: TokenEndpoint[object] = TokenEndpoint(issuer(), authorize=lambda r: None, hook=hook)
    pending = issue(endpoint, call())
    assert inspect.isawaitable(pending)
    with pytest.raises(HttpError) as refused:
        run_on_thread_loop(_awaited(pending))
    assert refused.value.status == 403


def test_the_context_is_built_only_when_a_step_reads_it() -> None:
    endpoint: TokenEndpoint[object] = TokenEndpoint(issuer(), authorize=lambda r: None)
    exchange = call()
    issue(endpoint, exchange)
    assert exchange._context is None, "nothing read the client IP or the headers"


def test_one_that_waits_runs_on_the_threads_loop() -> None:
    async def waits() -> int:
        await asyncio.sleep(0)
        return 1

    assert run_on_thread_loop(waits()) == 1


async def _awaited(pending: object) -> bytes:
    result = await pending  # type: ignore[misc]
    assert isinstance(result, bytes)
    return result
