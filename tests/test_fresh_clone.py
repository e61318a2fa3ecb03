"""A clone from the repository's public home stands alone: without the team's shared folder
beside it, every test still collects (the official vectors are part of the repository)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.fail("run the test suite from a git checkout: this test clones it")
    target = tmp_path_factory.mktemp("fresh") / "zego-token"
    _git("clone", "--quiet", "--no-hardlinks", str(ROOT), str(target), cwd=ROOT)
    assert not (target.parent / "shared").exists()
    return target


def test_nothing_in_the_repository_refers_to_the_team_only_shared_folder(clone: Path) -> None:
    hits = subprocess.run(
        # Spelled in two pieces so that this file does not match itself.
        ["git", "grep", "-nE", r"\.\./" + "shared|shared" + "/vectors"],
        cwd=clone,
        capture_output=True,
        text=True,
    ).stdout
    assert hits == "", hits


def test_every_test_collects_in_a_fresh_clone(clone: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = result.stdout[-2000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert "error" not in result.stdout.lower().splitlines()[-1], tail
    collected = re.search(r"(\d+) tests? collected", result.stdout)
    assert collected is not None, tail
    # The vectors alone give well over a hundred tests; the whole suite several hundred.
    assert int(collected.group(1)) > 500, tail
    vector_tests = [line for line in result.stdout.splitlines() if "test_vectors.py" in line]
    assert len(vector_tests) >= 60, tail
