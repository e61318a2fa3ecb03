"""Run one fuzz target under atheris for a bounded time (libFuzzer prints "Done N runs")."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    from targets import TARGETS

    import zego_token  # noqa: F401


def main() -> None:
    name, seconds = sys.argv[1], int(sys.argv[2])
    args = [sys.argv[0], f"-max_total_time={seconds}", "-max_len=4096", "-rss_limit_mb=2048"]
    atheris.Setup(args, TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
