"""The ``[hook]`` step: a Python function of the app's own, for rules the policy cannot express.

The hook is named ``"module:function"`` in the configuration and loaded at start-up. It is
called with a read-only ``HookContext`` and returns ``Allow(...)`` (optionally narrowing the
request), ``Deny(reason)``, or a plain ``True``/``False``. It may be sync (run in a thread, so it
may block on a database) or async. Anything else it does — raising, timing out, widening the
request, returning something unexpected — denies with 403 ``hook_error`` and is logged here;
the client never sees the exception.

A timeout does not stop a sync hook: Python cannot stop a thread, so the function runs on to its
end while the request is refused. So sync hooks run on an executor of their own with ``threads``
threads (never the event loop's default one), and each client (an identity, or an address for
anonymous callers) may have at most ``per_client`` calls running, timed-out ones included. A
call that would exceed either is refused at once with 503 ``hook_busy`` and Retry-After, instead
of queueing behind slow calls: six requests to a slow room cannot starve everyone else's hook.

    # myapp/zego_rules.py
    from zego_token.server.hooks import Allow, Deny, HookContext

    def check(ctx: HookContext) -> Allow | Deny:
        if ctx.request.room_id and ctx.request.room_id.startswith("vip-"):
            return Allow() if is_vip(ctx.identity.subject) else Deny("VIP rooms are for VIPs")
        return Allow(publish=False)  # everyone else watches
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import importlib
import inspect
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any

from msgspec import Meta

from .contracts import HIDDEN_HEADERS, Decider, Identity, RequestContext, TokenRequest
from .errors import HttpError
from .ratelimit import Throttle
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
    # Calls running at once, timed-out sync ones included (one thread each), and of those the
    # calls one client may have running.
    threads: Annotated[int, Meta(ge=1, le=1024)] = 8
    per_client: Annotated[int, Meta(ge=1, le=1024)] = 2


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
        if settings.threads < 1 or settings.per_client < 1:
            # The schema checks the server's [hook]; an embedding app passes these directly.
            raise ValueError(
                f"hook threads ({settings.threads}) and per_client ({settings.per_client}) "
                "must each be at least 1"
            )
        self.function = function
        self.settings = settings
        self._is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - an async __call__ on an object
        )
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        # Calls running (timed-out sync ones until their thread returns), in all and by client;
        # a thread lock, since embedded WSGI apps call from many threads and event loops.
        self._lock = threading.Lock()
        self._running = 0
        self._by_client: dict[str, int] = {}
        self._busy_log = Throttle()
        self._retry_after = str(max(1, math.ceil(settings.timeout)))

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
        client = (
            f"ip:{context.client_ip}"
            if identity.method == "none"
            else f"{identity.method}:{identity.subject}"
        )
        self._acquire(client)
        # Who frees the call's slot: its thread when it ran on one, else this request.
        on_thread = [False]
        try:
            verdict = await asyncio.wait_for(
                self._call(hook_context, client, on_thread), self.settings.timeout
            )
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
        finally:
            if not on_thread[0]:
                self._release(client)  # a timeout cancels an async hook: it does stop
        raise HttpError(
            403, "hook_error", "the server's custom rule could not decide; the request is refused"
        )

    def _acquire(self, client: str) -> None:
        """Count a call for ``client``, or refuse it (503 ``hook_busy``) when the hook's
        threads or the client's share are all taken."""
        settings = self.settings
        with self._lock:
            mine = self._by_client.get(client, 0)
            full = self._running >= settings.threads
            if not full and mine < settings.per_client:
                self._running += 1
                self._by_client[client] = mine + 1
                return
        held = self._busy_log.allow("all" if full else "client")
        if held is not None:
            log.warning(
                "hook %s is busy: %s; refusing with 503 hook_busy",
                settings.function,
                f"all {settings.threads} calls running (hook.threads)"
                if full
                else f"a client has {settings.per_client} calls running (hook.per_client)",
                extra={"suppressed": held},
            )
        raise HttpError(
            503,
            "hook_busy",
            f"the server's custom rule is busy with other requests; retry in {self._retry_after} s",
            headers={"Retry-After": self._retry_after},
        )

    def _release(self, client: str) -> None:
        with self._lock:
            self._running -= 1
            left = self._by_client[client] - 1
            if left:
                self._by_client[client] = left
            else:
                del self._by_client[client]

    async def _call(self, hook_context: HookContext, client: str, on_thread: list[bool]) -> object:
        if self._is_async:
            return await self.function(hook_context)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.settings.threads, thread_name_prefix="zego-hook"
            )
        future = self._executor.submit(self.function, hook_context)
        # The slot is free when the thread returns, not when the request gives up on it.
        on_thread[0] = True
        future.add_done_callback(lambda _: self._release(client))
        result = await asyncio.wrap_future(future)
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
