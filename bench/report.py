"""What every benchmark prints: the machine it ran on and markdown tables, so that a run's
output can be pasted into docs/benchmarks.md unchanged."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    """Cores, CPU model, OS and load: the facts needed to judge the numbers that follow."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- cores (nproc): {os.cpu_count()}; usable by this process: "
        f"{len(os.sched_getaffinity(0))}",
        f"- CPU: {cpu_model()}",
        f"- OS: {platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- load average at start (1, 5, 15 min): {load}",
    ]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; numbers right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    align = [
        "---:" if rows and all(_numeric(str(row[i])) for row in rows) else "---"
        for i in range(len(headers))
    ]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace("x", "").replace("%", "").replace("+", "")
    try:
        float(stripped)
    except ValueError:
        return False
    return True


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def count(value: float) -> str:
    """A rate or count with thousands separators."""
    return f"{value:,.0f}"


def ratio(value: float) -> str:
    return f"{value:.2f}x"
