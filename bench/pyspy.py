"""Sample a running server worker with py-spy and rank where its Python time goes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import report


def record(pid: int, seconds: int, rate: int = 250) -> Counter[tuple[str, ...]]:
    """Stacks (outermost first) and how many samples each got, idle time left out."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(binary).exists():
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy (dev extra)")
    with tempfile.TemporaryDirectory(prefix="zego-pyspy-") as tmp:
        out = Path(tmp) / "stacks.txt"
        done = subprocess.run(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(seconds),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"py-spy failed ({done.returncode}): {done.stderr.strip()}")
        stacks: Counter[tuple[str, ...]] = Counter()
        for line in out.read_text().splitlines():
            frames, _, count = line.rpartition(" ")
            if frames and count.isdigit():
                stacks[tuple(frames.split(";"))] += int(count)
    return stacks


# Frames that only start the worker: they sit under every sample of the serving thread.
_LAUNCHER = (
    "multiprocessing/",
    "granian/server/",
    "zego_token/cli/",
    "zego_token/server/cli.py",
    "(zego-token",
    "threading.py",
)


def _function(frame: str) -> str:
    """``name (file:line)`` -> ``name (file)``: inclusive time is per function, not per line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def top_tables(stacks: Counter[tuple[str, ...]], top: int = 12) -> str:
    """Two tables: the lines with the most self samples, the functions with the most in total."""
    total = sum(stacks.values()) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, n in stacks.items():
        own[stack[-1]] += n
        for function in {_function(frame) for frame in stack}:
            inclusive[function] += n
    self_rows = [(frame, f"{n / total * 100:.1f}") for frame, n in own.most_common(top)]
    inner = [(f, n) for f, n in inclusive.most_common() if not any(x in f for x in _LAUNCHER)]
    inner = inner[:top]
    total_rows = [(function, f"{n / total * 100:.1f}") for function, n in inner]
    # Granian's Rust runtime (HTTP parsing, the event loop) shows up as the worker's call into
    # granian with no Python frame above it.
    runtime = sum(n for stack, n in stacks.items() if any(x in stack[-1] for x in _LAUNCHER))
    return (
        f"{total:,} samples of busy time in the worker's Python threads; "
        f"{runtime / total * 100:.0f}% of them inside the server runtime's own call "
        "(granian's Rust HTTP and event loop), the rest in Python code\n\n"
        + report.table(("line (self time)", "% of samples"), self_rows)
        + "\n\n"
        + report.table(("function (including callees)", "% of samples"), total_rows)
    )
