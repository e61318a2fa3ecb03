"""The session-end check of tests/conftest.py: a process a test starts and never ends fails
the run, named, and is ended; in a pytest-xdist worker too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LEAKY = """
import os
import subprocess


def test_starts_a_process_and_forgets_it():
    process = subprocess.Popen(["sleep", "300"])
    with open(os.environ["LEAKED_PID_FILE"], "w") as file:
        file.write(str(process.pid))
"""

TIDY = """
import subprocess


def test_starts_a_process_and_ends_it():
    process = subprocess.Popen(["sleep", "300"])
    process.kill()
    process.wait()
"""


def run_pytest(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT)
    env["LEAKED_PID_FILE"] = str(tmp_path / "leaked.pid")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "--rootdir",
            str(tmp_path),
            "--basetemp",
            str(tmp_path / "base"),
            str(tmp_path / "test_sample.py"),
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["in-process", "xdist-worker"])
def test_a_process_left_running_fails_the_run_and_is_ended(
    tmp_path: Path, workers: list[str]
) -> None:
    done = run_pytest(tmp_path, LEAKY, *workers)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    pid = int((tmp_path / "leaked.pid").read_text())
    assert f"left 1 process(es) running (now killed): pid {pid}: sleep 300" in output
    assert not alive(pid)


def test_a_run_whose_tests_end_their_processes_passes(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, TIDY, "-n", "1")
    assert done.returncode == 0, done.stdout + done.stderr
