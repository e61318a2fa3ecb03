"""OpenTelemetry spans for the token pipeline: the ``otel`` extra, configured by the standard
``OTEL_*`` environment variables.

Tracing is on in a process once ``install`` is given a tracer (the server does it in each
worker when ``OTEL_TRACES_EXPORTER`` names an exporter). Off, nothing of OpenTelemetry is
imported: the pipeline's steps are not wrapped at all, the server checks one attribute per
request, and the Redis and JWKS paths one module global per call.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

from .schema import ConfigError

ENV_EXPORTER = "OTEL_TRACES_EXPORTER"
ENV_DISABLED = "OTEL_SDK_DISABLED"
EXTRA_HINT = 'pip install "zego-token[otel]"'

# The process's tracer while tracing is on (``install``), else None.
TRACER: Any = None

J = TypeVar("J")
Step = Callable[[J], Awaitable[None] | None]


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names; empty when tracing is off."""
    if env.get(ENV_DISABLED, "").strip().lower() == "true":
        return []
    names = [n.strip() for n in env.get(ENV_EXPORTER, "").split(",") if n.strip()]
    return [] if names == ["none"] else names


def check_environment(env: Mapping[str, str]) -> None:
    """Raise ``ConfigError`` when tracing is asked for and cannot be provided."""
    names = exporter_names(env)
    if not names:
        return
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        raise ConfigError(
            ENV_EXPORTER, f"asks for tracing, but the otel extra is not installed: {EXTRA_HINT}"
        )
    from importlib.metadata import entry_points

    known = {e.name for e in entry_points(group="opentelemetry_traces_exporter")}
    for name in names:
        if name not in known:
            raise ConfigError(
                ENV_EXPORTER,
                f"no exporter named {name!r} is installed; installed: {', '.join(sorted(known))} "
                "(OTLP: pip install opentelemetry-exporter-otlp)",
            )


def tracer_from_environment(env: Mapping[str, str]) -> tuple[Any, Callable[[], None]] | None:
    """A tracer exporting as ``OTEL_*`` says, and the function that flushes and stops it; None
    when tracing is off. Call it in each worker process (export threads do not survive a fork)."""
    names = exporter_names(env)
    if not names:
        return None
    check_environment(env)
    from importlib.metadata import entry_points

    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the provider reads
    # OTEL_TRACES_SAMPLER(_ARG); the batch processor OTEL_BSP_*; the exporters their own.
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or "zego-token"})
    provider = TracerProvider(resource=resource)
    exporters = {e.name: e for e in entry_points(group="opentelemetry_traces_exporter")}
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(exporters[name].load()()))
    return trace.get_tracer("zego_token", tracer_provider=provider), provider.shutdown


def install(tracer: Any) -> None:
    """Trace this process's Redis calls and JWKS fetches with ``tracer`` (None: stop)."""
    global TRACER
    TRACER = tracer


def traced_step(tracer: Any, name: str, step: Step[J]) -> Step[J]:
    """``step`` inside a span named ``name``, a child of the request's span. A step that
    hands back an awaitable keeps its span open (and current) until that is done."""
    from opentelemetry import context, trace

    def run(job: J) -> Awaitable[None] | None:
        span = tracer.start_span(name)
        token = context.attach(trace.set_span_in_context(span))
        try:
            pending = step(job)
        except BaseException as exc:
            _failed(span, exc)
            span.end()
            raise
        finally:
            context.detach(token)
        if pending is None:
            span.end()
            return None
        return _finish(span, pending)

    return run


async def _finish(span: Any, pending: Awaitable[None]) -> None:
    from opentelemetry import trace

    with trace.use_span(span, end_on_exit=True, record_exception=False):
        try:
            await pending
        except BaseException as exc:
            _failed(span, exc)
            raise


def _failed(span: Any, exc: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    code = getattr(exc, "code", None)  # HttpError: a refusal, named by its code
    if isinstance(code, str):
        span.set_attribute("zego.error", code)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


@contextlib.contextmanager
def span(name: str, parent: Any = None, **attributes: Any) -> Iterator[None]:
    """A span around a call to another service (Redis, the JWKS), when tracing is on;
    ``parent`` is a context from ``current_context`` (for work done in another thread)."""
    tracer = TRACER
    if tracer is None:
        yield
        return
    with tracer.start_as_current_span(name, context=parent, attributes=attributes):
        yield


def current_context() -> Any:
    """The caller's trace context when tracing is on, to parent work done in a thread."""
    if TRACER is None:
        return None
    from opentelemetry import context

    return context.get_current()
