"""The layers of the picture hold (docs/architecture.md): the library imports no pipeline and no
server code; the pipeline and the integrations import no web framework, no Granian and nothing
of the standalone server; each adapter imports only its own framework."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FRAMEWORKS = ("granian", "fastapi", "starlette", "flask", "werkzeug", "django", "uvicorn")
# What only the standalone server needs: its HTTP server, its metrics, its shared rate limits.
SERVER_ONLY = ("granian", "prometheus_client", "redis")
ADAPTERS = ("fastapi", "flask", "django")


def loaded_after(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)} | set(json.loads(out.stdout))


def test_the_library_imports_no_server_code() -> None:
    loaded = loaded_after("zego_token")
    for layer in ("server", "pipeline", "auth", "integrations"):
        assert f"zego_token.{layer}" not in loaded
    assert not loaded & set(FRAMEWORKS)


@pytest.mark.parametrize("module", ["zego_token.pipeline.core", "zego_token.integrations"])
def test_the_pipeline_and_the_integrations_core_import_no_framework(module: str) -> None:
    assert not loaded_after(module) & set(FRAMEWORKS)


@pytest.mark.parametrize(
    "module",
    [
        "zego_token.pipeline.core",
        "zego_token.integrations",
        *(f"zego_token.integrations.{adapter}" for adapter in ADAPTERS),
    ],
)
def test_an_adapter_and_the_pipeline_load_nothing_of_the_standalone_server(module: str) -> None:
    loaded = loaded_after(module)
    server = sorted(name for name in loaded if name.startswith("zego_token.server"))
    assert server == [], f"{module} loads {server}"
    assert not loaded & set(SERVER_ONLY), f"{module} loads {sorted(loaded & set(SERVER_ONLY))}"


def test_the_integrations_load_no_authentication_mode() -> None:
    # An embedding app's authorize is its authentication: API keys and PyJWT are the server's.
    loaded = loaded_after("zego_token.integrations")
    assert not {name for name in loaded if name.startswith("zego_token.auth")}
    assert "jwt" not in loaded


@pytest.mark.parametrize(
    ("adapter", "own"),
    [
        ("fastapi", {"fastapi", "starlette"}),
        ("flask", {"flask", "werkzeug"}),
        ("django", {"django"}),
    ],
)
def test_each_adapter_imports_only_its_own_framework(adapter: str, own: set[str]) -> None:
    loaded = loaded_after(f"zego_token.integrations.{adapter}") & set(FRAMEWORKS)
    assert own <= loaded
    assert loaded <= own
