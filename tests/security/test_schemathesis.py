"""schemathesis against the running server's own /openapi.json: every endpoint and method, valid
and invalid data; no 5xx, and every response matches the status codes, content types, headers
and body schemas the document promises.

One check is left out: ``positive_data_acceptance`` (a schema-valid request must get 2xx). The
server is stricter than OpenAPI can say in two places: ``publish``, ``login`` and ``streamID``
need ``roomID`` (a dependency between query parameters has no OpenAPI form), and a JSON TTL of
``3600.0`` is refused although JSON Schema calls it an integer. Both answers are documented 400s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LONG
from tests.server.conftest import API_KEY, RunningServer, api_key_config

StartServer = Callable[..., RunningServer]
# A body over server.max_body_bytes is refused with 413 before it is validated: for a
# schema-violating body that is a right answer too.
TOKEN_OPERATIONS = {
    "GET /api/token",
    "POST /api/token",
    "GET /api/kit-token",
    "POST /api/kit-token",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
}
SCHEMATHESIS_CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
"""
# Per operation and phase: 150 is about 20 s per server on a 2-core machine (ZEGO_TEST_LONG=1).
EXAMPLES = 150 if LONG else 40
SEED = 20261130  # reproducible; change it to explore


def schemathesis(server: RunningServer, report_dir: Path, *headers: str) -> dict[str, Any]:
    binary = Path(sys.executable).with_name("schemathesis")
    if not binary.exists():
        pytest.fail(
            f"schemathesis is not installed next to {sys.executable} (pip install -e .[dev])"
        )
    config = report_dir.parent / f"{report_dir.name}-schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    command = [
        str(binary),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{server}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",  # schemathesis 4.32 with several workers trips on a Hypothesis race (AST cache)
        "--request-timeout",
        "10",
        "--report",
        "json",
        "--report-dir",
        str(report_dir),
        "--output-truncate",
        "true",
    ]
    for header in headers:
        command += ["--header", header]
    # cwd: schemathesis keeps a crash cache in ./.schemathesis; keep it out of the checkout.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=240, check=False, cwd=report_dir.parent
    )
    reports = sorted(report_dir.glob("*.json"))
    assert reports, result.stdout[-3000:] + result.stderr[-3000:]
    report: dict[str, Any] = json.loads(reports[-1].read_text())
    failures = result.stdout.find("FAILURES")
    assert result.returncode == 0, result.stdout[failures if failures >= 0 else -6000 :][:8000]
    return report


def _operations(server: RunningServer) -> set[str]:
    document = httpx.get(f"{server}/openapi.json", timeout=10).json()
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete", "options", "head")
    }


def _assert_clean(report: dict[str, Any], server: RunningServer, expected: set[str]) -> None:
    assert report["complete"] and report["exit_code"] == 0
    operations = len(expected)
    assert _operations(server) == expected  # the document lists every endpoint and method
    # schemathesis leaves out the document's own operation, GET /openapi.json
    assert report["operations"]["tested"] == report["operations"]["total"] == operations - 1
    assert report["failures"] == [] and report["errors"] == []
    cases = report["test_cases"]
    assert cases["with_failures"] == 0 and cases["errored"] == 0
    assert cases["generated"] >= EXAMPLES * operations * 2 // 3
    # The server's own view: not one request ended in a 5xx.
    statuses = [r["status"] for r in server.records() if r.get("msg") == "request"]
    assert len(statuses) >= cases["generated"] * 0.9
    assert all(status < 500 for status in statuses)
    print(f"schemathesis: {cases['generated']} cases over {operations} operations, 0 failures")


@pytest.mark.slow
def test_schemathesis_with_api_keys(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(
        api_key_config(), env={"ZEGO_TOKEN_CORS_ORIGINS": "https://allowed.example"}
    )
    report = schemathesis(server, tmp_path / "api-key", f"Authorization: Bearer {API_KEY}")
    _assert_clean(report, server, TOKEN_OPERATIONS)


@pytest.mark.slow
def test_schemathesis_in_demo_mode(start_server: StartServer, tmp_path: Path) -> None:
    """Demo mode adds /demo, /demo/{file} and /api/debug/inspect, and needs no credentials."""
    server = start_server(args=["--demo"], app=False)
    report = schemathesis(server, tmp_path / "demo")
    demo = {"GET /demo", "GET /demo/{file}", "POST /api/debug/inspect"}
    _assert_clean(report, server, TOKEN_OPERATIONS | demo)
