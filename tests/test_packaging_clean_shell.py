"""The packaging stage of scripts/test from a clean shell: no CA variables, no virtualenv.

Its install step (``python -m build --installer uv``: uv fetches the build backend into an
isolated environment) must trust the system's CA store by itself, as pip does: behind a
TLS-inspecting proxy, or with a CA only in the system store, uv's bundled roots fail. uv's
cache is off so that the index is really contacted over TLS. And a failing build is one line
naming the step and its cause, not a traceback.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# What `env -i HOME=... PATH=...` leaves: none of SSL_CERT_FILE, SSL_CERT_DIR, REQUESTS_CA_BUNDLE,
# PIP_CERT, CURL_CA_BUNDLE and the like.
CLEAN = {
    "HOME": os.environ.get("HOME", "/root"),
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "UV_NO_CACHE": "1",
}


def build_only(outdir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "test-artifact"), "--build-only", str(outdir)],
        cwd=ROOT,
        env={**CLEAN, **extra},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_packaging_install_step_works_without_any_ca_variable(tmp_path: Path) -> None:
    assert not any("CERT" in name or "CA_BUNDLE" in name for name in CLEAN)
    done = build_only(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    built = sorted(path.suffix for path in tmp_path.iterdir())
    assert built == [".gz", ".whl"], built


def test_a_failing_packaging_install_step_is_one_line_naming_the_step_and_the_cause(
    tmp_path: Path,
) -> None:
    # An index nobody answers on: the install step cannot fetch the build backend.
    done = build_only(tmp_path, UV_DEFAULT_INDEX="http://127.0.0.1:9/simple")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("test-artifact: building the sdist and the wheel")
    assert "Connection refused" in lines[0], lines[0]
    assert "Traceback" not in done.stdout + done.stderr
