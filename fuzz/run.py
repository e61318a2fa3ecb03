"""Run one fuzz target under atheris for a bounded time (libFuzzer prints "Done N runs")."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Coverage feedback from our own code and the pure-Python TOML parser it drives; instrumenting
# every dependency too (cryptography, the stdlib) costs ~15 s of start-up per target and guides
# the fuzzer through code that is not ours.
with atheris.instrument_imports(include=["zego_token", "targets", "tomllib", "tomli"]):
    from targets import TARGETS

    import zego_token  # noqa: F401


def main() -> None:
    name, seconds = sys.argv[1], int(sys.argv[2])
    args = [sys.argv[0], f"-max_total_time={seconds}", "-max_len=4096", "-rss_limit_mb=2048"]
    atheris.Setup(args, TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
