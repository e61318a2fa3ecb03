"""bench/limiter_memory.py, run with 20,000 keys so that it does not rot (the 1,000,000-key
measurement in docs/security.md takes about 10 s and is run by hand)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "limiter_memory.py"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_limiter_memory_bench_reports_a_positive_growth() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "20000"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    match = re.fullmatch(
        r"20000 keys: RSS [\d.]+ MiB -> [\d.]+ MiB \(\+([\d.]+) MiB, (\d+) bytes per key\)\n",
        result.stdout,
    )
    assert match, result.stdout
    assert float(match[1]) > 0 and 50 < int(match[2]) < 2000
