"""The hook step: loading ``module:function``, sync and async hooks, narrowing only, failures."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from zego_token.pipeline.contracts import Decider, Identity, RequestContext, TokenRequest
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.hooks import HookSettings, load_hook
from zego_token.pipeline.schema import ConfigError

CONTEXT = RequestContext(
    client_ip="203.0.113.9",
    method="GET",
    path="/api/token",
    headers={"user-agent": "test", "authorization": "Bearer sekrit", "cookie": "sid=sekrit"},
)
ALICE = Identity(method="jwt", subject="alice", user_id="alice")
REQUEST = TokenRequest(
    app_id=1, user_id="alice", ttl=3600, room_id="r1", publish=True, stream_ids=("a", "b")
)


@pytest.fixture
def hook_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Write a module of hooks and return a loader for ``name:function`` in it."""
    name = f"zego_hooks_{secrets.token_hex(4)}"
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    yield write
    sys.modules.pop(name, None)


def run(decider: Decider, request: TokenRequest = REQUEST) -> TokenRequest:
    return asyncio.run(decider.decide(ALICE, request, CONTEXT))


def refused(decider: Decider) -> HttpError:
    with pytest.raises(HttpError) as caught:
        run(decider)
    assert caught.value.status == 403
    return caught.value


def hook(module: str, function: str, timeout: float = 2.0) -> Decider:
    return load_hook(
        HookSettings.from_mapping({"function": f"{module}:{function}", "timeout": timeout})
    )


HOOKS = """
import asyncio, time, threading
from zego_token.pipeline.hooks import Allow, Deny

seen = {}

def allow(ctx):
    seen["ctx"] = ctx
    seen["thread"] = threading.current_thread().name
    return Allow()

async def allow_async(ctx):
    await asyncio.sleep(0)
    return True

def deny(ctx):
    return Deny(f"{ctx.identity.subject} is not a member of {ctx.request.room_id}")

def say_no(ctx):
    return False

def narrow(ctx):
    return Allow(publish=False, ttl=600, stream_ids=("a",))

def widen_ttl(ctx):
    return Allow(ttl=ctx.request.ttl + 1)

def widen_streams(ctx):
    return Allow(stream_ids=("a", "zzz"))

def widen_login(ctx):
    return Allow(login=True) if not ctx.request.login else Allow()

def crash(ctx):
    raise RuntimeError("database password is hunter2")

def odd(ctx):
    return "yes"

def slow(ctx):
    time.sleep(0.5)
    return True

async def slow_async(ctx):
    await asyncio.sleep(5)
    return True

def tamper(ctx):
    ctx.headers["x-evil"] = "1"
    return True

NOT_CALLABLE = 42
"""


def test_sync_hook_sees_a_read_only_context_without_credentials(hook_module: Any) -> None:
    module = hook_module(HOOKS)
    assert run(hook(module, "allow")) is REQUEST
    seen = sys.modules[module].seen
    ctx = seen["ctx"]
    assert ctx.identity is ALICE and ctx.request is REQUEST
    assert ctx.client_ip == "203.0.113.9"
    assert dict(ctx.headers) == {"user-agent": "test"}
    assert seen["thread"] != "MainThread"  # a blocking hook does not stall the event loop


def test_async_hook(hook_module: Any) -> None:
    assert run(hook(hook_module(HOOKS), "allow_async")) is REQUEST


def test_deny_with_a_reason(hook_module: Any) -> None:
    error = refused(hook(hook_module(HOOKS), "deny"))
    assert error.code == "hook_denied"
    assert error.message == "alice is not a member of r1"
    assert refused(hook(hook_module(HOOKS), "say_no")).code == "hook_denied"


def test_narrowing_is_applied(hook_module: Any) -> None:
    narrowed = run(hook(hook_module(HOOKS), "narrow"))
    assert (narrowed.publish, narrowed.ttl, narrowed.stream_ids) == (False, 600, ("a",))
    assert narrowed.room_id == "r1" and narrowed.user_id == "alice"


@pytest.mark.parametrize("function", ["widen_ttl", "widen_streams", "crash", "odd", "tamper"])
def test_widening_errors_and_junk_deny_without_details(
    hook_module: Any, function: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="zego_token.server.hooks")
    error = refused(hook(hook_module(HOOKS), function))
    assert error.code == "hook_error"
    assert "hunter2" not in error.message and "Traceback" not in error.message
    assert caplog.records, "the failure is logged for the operator"


def test_widening_login(hook_module: Any) -> None:
    decider = hook(hook_module(HOOKS), "widen_login")
    with pytest.raises(HttpError) as caught:
        asyncio.run(
            decider.decide(ALICE, TokenRequest(app_id=1, user_id="a", ttl=60, login=False), CONTEXT)
        )
    assert caught.value.code == "hook_error"


@pytest.mark.parametrize("function", ["slow", "slow_async"])
def test_timeout_denies(hook_module: Any, function: str) -> None:
    assert refused(hook(hook_module(HOOKS), function, timeout=0.1)).code == "hook_error"


def test_missing_module_stops_start_up() -> None:
    with pytest.raises(ConfigError) as caught:
        hook("no_such_module_zz", "check")
    assert caught.value.key == "hook.function"
    assert "not found" in caught.value.message


def test_missing_or_non_callable_attribute(hook_module: Any) -> None:
    module = hook_module(HOOKS)
    with pytest.raises(ConfigError, match="no attribute"):
        hook(module, "absent")
    with pytest.raises(ConfigError, match="not a function"):
        hook(module, "NOT_CALLABLE")


def test_module_failing_on_import(hook_module: Any) -> None:
    module = hook_module("raise ImportError('needs psycopg')\n")
    with pytest.raises(ConfigError, match="needs psycopg"):
        hook(module, "check")


@pytest.mark.parametrize(
    "data", [{}, {"function": "no_colon"}, {"function": "a:b", "timeout": 0}, {"function": 3}]
)
def test_bad_hook_settings(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        HookSettings.from_mapping(data)
    assert caught.value.key.startswith("hook.")
