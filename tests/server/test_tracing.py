"""OpenTelemetry: a span per request, a child per pipeline step (and per Redis call and JWKS
fetch), the caller's ``traceparent`` honoured, the trace ID in the access log; nothing of it
loaded when tracing is off."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from tests.fixtures.idp import IdentityProvider
from tests.server.conftest import (
    API_KEY,
    API_KEY_SHA256,
    APP_ID,
    SECRET,
    RunUntilExit,
    StartServer,
    server_env,
)
from tests.server.test_app_inprocess import Pipe, call
from zego_token.pipeline import tracing
from zego_token.server.app import TokenServer, create_app
from zego_token.server.config import Overrides, load_settings
from zego_token.server.hooks import Allow, HookContext
from zego_token.server.logs import Logger

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
ENV = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}


async def allow_everyone(ctx: HookContext) -> Allow:
    return Allow()


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    log = Pipe()
    yield log
    log.close()


@pytest.fixture
def spans() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    tracing.install(tracer)
    yield tracer, exporter
    tracing.install(None)
    provider.shutdown()


def traced_app(tmp_path: Path, pipe: Pipe, tracer: Any, config: str) -> TokenServer:
    path = tmp_path / "config.toml"
    path.write_text(config)
    settings = load_settings(Overrides(config_file=str(path)), ENV)
    logger = Logger("info", "json", fd=pipe.write_fd, secrets=[SECRET])
    return create_app(settings, logger=logger, tracer=tracer)


def by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in finished}


def test_a_request_span_has_a_child_per_step_under_the_callers_trace(
    tmp_path: Path, pipe: Pipe, spans: tuple[Any, InMemorySpanExporter]
) -> None:
    tracer, exporter = spans
    app = traced_app(
        tmp_path,
        pipe,
        tracer,
        f"""
[[auth.api_keys]]
name = "game-backend"
sha256 = "{API_KEY_SHA256}"

[rate_limit]
per_ip = 100

[hook]
function = "tests.server.test_tracing:allow_everyone"
""",
    )
    status, _, _ = call(
        app,
        "GET",
        "/api/kit-token",
        b"userID=alice&roomID=room-7&publish=1&expired_ts=1800",
        headers=[
            (b"authorization", f"Bearer {API_KEY}".encode()),
            (b"traceparent", TRACEPARENT.encode()),
        ],
    )
    assert status == 200
    found = by_name(exporter.get_finished_spans())
    request = found["GET /api/kit-token"]
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert request.parent is not None and format(request.parent.span_id, "016x") == PARENT_ID
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["zego.auth"] == "api_key:game-backend"
    for step in ("limits", "identify", "policy", "hook", "mint"):
        assert found[step].parent is not None, step
        assert found[step].parent.span_id == request.context.span_id, step
        assert found[step].context.trace_id == request.context.trace_id, step
    app.log.flush()
    line = json.loads(pipe.read().splitlines()[-1])
    assert line["trace_id"] == TRACE_ID and line["kind"] == "kit"


def test_a_refused_step_marks_its_span(
    tmp_path: Path, pipe: Pipe, spans: tuple[Any, InMemorySpanExporter]
) -> None:
    tracer, exporter = spans
    app = traced_app(
        tmp_path, pipe, tracer, f'[[auth.api_keys]]\nname = "k"\nsha256 = "{API_KEY_SHA256}"\n'
    )
    status, _, _ = call(app, "GET", "/api/token", b"userID=alice")
    assert status == 401
    found = by_name(exporter.get_finished_spans())
    assert found["identify"].attributes == {"zego.error": "missing_credentials"}
    assert found["GET /api/token"].attributes["zego.error"] == "missing_credentials"  # type: ignore[index]
    assert "mint" not in found


def test_redis_calls_and_the_jwks_fetch_are_spans_of_their_steps(
    tmp_path: Path, pipe: Pipe, spans: tuple[Any, InMemorySpanExporter], redis_url: str
) -> None:
    tracer, exporter = spans
    idp = IdentityProvider().start()
    try:
        app = traced_app(
            tmp_path,
            pipe,
            tracer,
            f"""
[auth.jwt]
algorithms = ["RS256"]
issuer = "{idp.claims()["iss"]}"
audience = ["{idp.claims()["aud"]}"]
jwks_url = "{idp.jwks_url}"

[rate_limit]
per_identity = 100
redis_url = "{redis_url}"
key_prefix = "tracing-test:"
""",
        )
        token = idp.rs256(idp.claims(sub="alice"))
        status, _, body = call(
            app,
            "GET",
            "/api/token",
            b"userID=alice",
            headers=[(b"authorization", f"Bearer {token}".encode())],
        )
    finally:
        idp.stop()
    assert status == 200, body
    found = by_name(exporter.get_finished_spans())
    assert found["jwks fetch"].parent.span_id == found["identify"].context.span_id  # type: ignore[union-attr]
    assert found["redis EVALSHA"].parent.span_id == found["limits"].context.span_id  # type: ignore[union-attr]
    request = found["GET /api/token"]
    assert {span.context.trace_id for span in found.values()} == {request.context.trace_id}


def test_tracing_off_loads_nothing_of_opentelemetry() -> None:
    code = """
import sys
from zego_token.server.app import worker_app
from zego_token.server.config import load_settings
app = worker_app(load_settings())
assert app.tracer is None
assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported"
print("off")
"""
    env = server_env(ENV, app=False)
    env.pop("OTEL_TRACES_EXPORTER", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "off", done.stderr


def test_a_real_server_exports_its_spans_and_logs_the_trace_id(start_server: StartServer) -> None:
    server = start_server(
        env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "zego-token-test"}
    )
    answer = httpx.get(
        f"{server}/api/kit-token",
        params={"userID": "bob", "roomID": "room-9", "publish": "1", "expired_ts": "900"},
        headers={"traceparent": TRACEPARENT},
    )
    assert answer.status_code == 200
    server.terminate()
    server.wait_exit()
    output = server.output()
    line = next(
        r for r in server.records() if r.get("msg") == "request" and r.get("user_id") == "bob"
    )
    assert line["trace_id"] == TRACE_ID
    assert f'"trace_id": "0x{TRACE_ID}"' in output  # the console exporter's span
    assert '"name": "GET /api/kit-token"' in output and '"name": "mint"' in output
    assert '"service.name": "zego-token-test"' in output
    assert answer.json()["token"] not in output


def test_an_unknown_exporter_stops_start_up(run_until_exit: RunUntilExit) -> None:
    code, _, stderr = run_until_exit(env={"OTEL_TRACES_EXPORTER": "jaeger-thrift"})
    assert code == 2
    assert "configuration key OTEL_TRACES_EXPORTER: no exporter named 'jaeger-thrift'" in stderr
