"""The ``[hook]`` step: a Python function of the app's own, for rules the policy cannot express.

The hook is named ``"module:function"`` in the configuration and loaded at start-up. It is
called with a read-only ``HookContext`` and returns ``Allow(...)`` (optionally narrowing the
request), ``Deny(reason)``, or a plain ``True``/``False``. It may be sync (run in a thread, so it
may block on a database) or async. Anything else it does — raising, timing out, widening the
request, returning something unexpected — denies with 403 ``hook_error`` and is logged here;
the client never sees the exception.

    # myapp/zego_rules.py
    from zego_token.server.hooks import Allow, Deny, HookContext

    def check(ctx: HookContext) -> Allow | Deny:
        if ctx.request.room_id and ctx.request.room_id.startswith("vip-"):
            return Allow() if is_vip(ctx.identity.subject) else Deny("VIP rooms are for VIPs")
        return Allow(publish=False)  # everyone else watches
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any

from msgspec import Meta

from .contracts import HIDDEN_HEADERS, Decider, Identity, RequestContext, TokenRequest
from .errors import HttpError
from .schema import ConfigError, Section

log = logging.getLogger("zego_token.server.hooks")

# Seconds a hook may take before the request is refused (hook.timeout).
DEFAULT_TIMEOUT = 2.0


class HookSettings(Section, frozen=True, kw_only=True):
    """The ``[hook]`` section: which function decides, and how long it may take."""

    SECTION = "hook"

    function: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
            description='the hook as "module:function", e.g. "myapp.rules:check"',
        ),
    ]
    timeout: Annotated[float, Meta(gt=0, le=300)] = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class HookContext:
    """What the hook may look at. Frozen; headers exclude Authorization and Cookie."""

    identity: Identity
    request: TokenRequest
    client_ip: str
    method: str
    path: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Allow:
    """Admit the request; each set field narrows it (a wider value is refused as an error)."""

    login: bool | None = None
    publish: bool | None = None
    stream_ids: tuple[str, ...] | None = None
    ttl: int | None = None


@dataclass(frozen=True)
class Deny:
    """Refuse with 403 ``hook_denied``; ``reason`` is shown to the client."""

    reason: str


HookFunction = Callable[[HookContext], Any]


class _EmptyStreams(Exception):
    """The hook answered ``Allow(stream_ids=[])``: ZEGO would read it as any stream."""


class _Widened(Exception):
    pass


def load_hook(settings: HookSettings) -> Decider:
    """Import the configured function; ``ConfigError`` names what is wrong."""
    module_name, _, attribute = settings.function.partition(":")
    key = "hook.function"
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise ConfigError(
                key, f"module {module_name!r} not found (is it on PYTHONPATH?)"
            ) from None
        raise ConfigError(key, f"importing {module_name!r} failed: {error}") from None
    except Exception as error:
        raise ConfigError(
            key, f"importing {module_name!r} failed: {type(error).__name__}: {error}"
        ) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(
                key, f"module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not callable(target):
        raise ConfigError(key, f"{settings.function} is a {type(target).__name__}, not a function")
    return HookDecider(target, settings)


class HookDecider:
    """Implements ``contracts.Decider`` around the app's function."""

    def __init__(self, function: HookFunction, settings: HookSettings) -> None:
        self.function = function
        self.settings = settings
        self._is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - an async __call__ on an object
        )

    async def decide(
        self, identity: Identity, request: TokenRequest, context: RequestContext
    ) -> TokenRequest:
        hook_context = HookContext(
            identity=identity,
            request=request,
            client_ip=context.client_ip,
            method=context.method,
            path=context.path,
            headers=MappingProxyType(
                {k: v for k, v in context.headers.items() if k.lower() not in HIDDEN_HEADERS}
            ),
        )
        try:
            verdict = await asyncio.wait_for(self._call(hook_context), self.settings.timeout)
            return _apply(verdict, request)
        except HttpError:
            raise
        except asyncio.TimeoutError:
            log.error(
                "hook %s did not answer within %ss", self.settings.function, self.settings.timeout
            )
        except _Widened as error:
            log.error("hook %s tried to widen the request: %s", self.settings.function, error)
        except _EmptyStreams:
            log.error(
                "hook %s answered an empty stream list, which ZEGO reads as any stream; refused "
                "(return publish=False to grant no streams)",
                self.settings.function,
            )
            raise HttpError(
                403,
                "hook_empty_stream_list",
                "the server's custom rule answered an empty stream list, which ZEGO would read "
                "as any stream; the request is refused",
            ) from None
        except Exception:
            log.exception("hook %s failed", self.settings.function)
        raise HttpError(
            403, "hook_error", "the server's custom rule could not decide; the request is refused"
        )

    async def _call(self, hook_context: HookContext) -> object:
        if self._is_async:
            return await self.function(hook_context)
        result = await asyncio.to_thread(self.function, hook_context)
        if inspect.isawaitable(result):
            # A sync function that returns a coroutine (a functools.partial of an async one).
            result = await result
        return result


def _apply(verdict: object, request: TokenRequest) -> TokenRequest:
    if verdict is True:
        return request
    if verdict is False:
        raise HttpError(403, "hook_denied", "the server's custom rule refused this request")
    if isinstance(verdict, Deny):
        reason = verdict.reason if isinstance(verdict.reason, str) and verdict.reason else ""
        raise HttpError(
            403, "hook_denied", reason[:300] or "the server's custom rule refused this request"
        )
    if not isinstance(verdict, Allow):
        raise TypeError(f"the hook returned {type(verdict).__name__}; expected Allow, Deny or bool")
    changes: dict[str, Any] = {}
    if verdict.login is not None:
        if verdict.login and not request.login:
            raise _Widened("login was not requested")
        changes["login"] = verdict.login
    if verdict.publish is not None:
        if verdict.publish and not request.publish:
            raise _Widened("publish was not requested")
        changes["publish"] = verdict.publish
    if verdict.ttl is not None:
        if not isinstance(verdict.ttl, int) or not 0 < verdict.ttl <= request.ttl:
            raise _Widened(f"ttl {verdict.ttl!r} is not within 1..{request.ttl}")
        changes["ttl"] = verdict.ttl
    if verdict.stream_ids is not None:
        if isinstance(verdict.stream_ids, str):
            raise TypeError("Allow.stream_ids must be a list of stream IDs, not one string")
        streams = tuple(verdict.stream_ids)
        if not streams:
            raise _EmptyStreams
        if request.stream_ids is not None and not set(streams) <= set(request.stream_ids):
            raise _Widened("stream IDs that were not requested")
        changes["stream_ids"] = streams
    return dataclasses.replace(request, **changes) if changes else request
