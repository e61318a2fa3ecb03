"""The layers of the picture hold: the library imports no server code, the pipeline and the
integrations' core import no web framework and no Granian, each adapter only its own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FRAMEWORKS = ("granian", "fastapi", "starlette", "flask", "werkzeug", "django", "uvicorn")


def loaded_after(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)} | set(json.loads(out.stdout))


def test_the_library_imports_no_server_code() -> None:
    loaded = loaded_after("zego_token")
    assert "zego_token.server" not in loaded
    assert "zego_token.integrations" not in loaded
    assert not loaded & set(FRAMEWORKS)


@pytest.mark.parametrize("module", ["zego_token.server.pipeline", "zego_token.integrations"])
def test_the_pipeline_and_the_integrations_core_import_no_framework(module: str) -> None:
    assert not loaded_after(module) & set(FRAMEWORKS)


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
