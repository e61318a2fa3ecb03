"""How long ``zego-token audit`` takes over a large file, and how much memory it holds.

Writes a file of tokens (this project's, with random nonces, plus a few C++-style tokens of
one second sharing a nonce, so the reuse path runs too), then runs the installed
``zego-token audit FILE --json`` under ``/usr/bin/time -v`` without the ServerSecret, and prints
a markdown line with the wall time and the peak RSS. Usage::

    python bench/bench_audit.py [--tokens 1000000] [--file /tmp/zego-audit-bench.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from zego_token import generate_token04
from zego_token.glibc_rand import cpp_nonce_and_iv
from zego_token.token04 import encode_token04

SECRET = "0123456789abcdef0123456789abcdef"
BIN = Path(sys.executable).parent / "zego-token"


def write_tokens(path: Path, count: int) -> None:
    second = int(time.time())
    nonce, iv = cpp_nonce_and_iv(second, 12)
    reused = [
        encode_token04(
            app_id=1, user_id=f"cpp{i}", secret=SECRET, ctime=second, expire=second + 3600,
            nonce=nonce, iv=iv, mode="gcm",
        )
        for i in range(3)
    ]  # fmt: skip
    with path.open("w") as out:
        for i in range(count - len(reused)):
            out.write(generate_token04(1234567890, f"user{i % 1000}", SECRET, 3600) + "\n")
        out.write("\n".join(reused) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, default=Path("/tmp/zego-audit-bench.txt"))
    args = parser.parse_args()
    write_tokens(args.file, args.tokens)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEGO_")}
    started = time.monotonic()
    done = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN), "audit", str(args.file), "--json"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    report = json.loads(done.stdout)
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])  # type: ignore[index]
    assert report["tokens"] == args.tokens and len(report["nonce_reuse"]) == 1, report
    size_mib = args.file.stat().st_size / 2**20
    print(
        f"| `zego-token audit` over {args.tokens:,} tokens ({size_mib:.0f} MiB), no secret | "
        f"{wall:.1f} s wall ({args.tokens / wall / 1000:.0f}k tokens/s) | "
        f"peak RSS {peak_kib / 1024:.0f} MiB | exit {done.returncode}, "
        f"{len(report['nonce_reuse'])} reused nonce found |"
    )
    args.file.unlink()


if __name__ == "__main__":
    main()
