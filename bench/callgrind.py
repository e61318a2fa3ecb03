"""Instructions per call, counted by valgrind's callgrind: the number a loaded machine cannot move.

Each case runs in a fresh interpreter under ``valgrind --tool=callgrind`` twice, with a short and
a long loop after the same warm-up; the difference of the two totals divided by the difference
of the loop lengths is the cost of one call, without start-up and imports. Wall-clock rates on
this shared 2-core machine move by a third between runs; these repeat to a few instructions.

    .venv/bin/python bench/callgrind.py                 # every case
    .venv/bin/python bench/callgrind.py decode plain    # cases whose name contains a word
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jwt_tokens

BENCH_DIR = Path(__file__).resolve().parent
WARMUP = 300
_COLLECTED = re.compile(r"Collected : (\d+)")


def cases() -> dict[str, Callable[[], Callable[[], object]]]:
    """Name -> a maker of the call to count (made once, outside the counted loop)."""
    return {**library_cases(), **jwt_cases()}


def library_cases() -> dict[str, Callable[[], Callable[[], object]]]:
    from bench_library import APP_ID, PRIVILEGES, SECRET, TTL, USER_ID
    from reference_token04 import official_cbc, official_gcm, plain_decode, plain_decode_cached

    from zego_token import decode_token04, generate_token04

    def token(payload: str = "") -> str:
        return generate_token04(APP_ID, USER_ID, SECRET, TTL, payload)

    def decoding(decode: Callable[[str, str], object], payload: str = "") -> Callable[[], object]:
        made = token(payload)
        return lambda: decode(made, SECRET)

    return {
        "decode gcm": lambda: decoding(decode_token04),
        "decode gcm + privileges": lambda: decoding(decode_token04, PRIVILEGES),
        "plain decoder": lambda: decoding(plain_decode),
        "plain decoder + privileges": lambda: decoding(plain_decode, PRIVILEGES),
        "plain decoder, cached AESGCM": lambda: decoding(plain_decode_cached),
        "generate gcm": lambda: lambda: generate_token04(APP_ID, USER_ID, SECRET, TTL),
        "generate gcm + privileges": lambda: (
            lambda: generate_token04(APP_ID, USER_ID, SECRET, TTL, PRIVILEGES)
        ),
        # The generation baselines; their random draws (Python's random) are counted, the
        # library's os.urandom reads are a syscall per 128 tokens that callgrind cannot see.
        "official GCM generator": lambda: lambda: official_gcm(APP_ID, USER_ID, SECRET, TTL, ""),
        "official GCM generator + privileges": lambda: (
            lambda: official_gcm(APP_ID, USER_ID, SECRET, TTL, PRIVILEGES)
        ),
        "official CBC generator": lambda: lambda: official_cbc(APP_ID, USER_ID, SECRET, TTL, ""),
        "official CBC generator + privileges": lambda: (
            lambda: official_cbc(APP_ID, USER_ID, SECRET, TTL, PRIVILEGES)
        ),
    }


def jwt_cases() -> dict[str, Callable[[], Callable[[], object]]]:
    return {
        f"jwt {name}": (lambda name=name: jwt_tokens.verifier_call(name))
        for name in jwt_tokens.VERIFIERS
    }


def count(name: str, loops: int) -> int:
    """Total instructions of a fresh interpreter that warms up and then calls ``loops`` times."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    done = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--inner",
            name,
            str(loops),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=BENCH_DIR,
        # A fixed hash seed: with a random one, start-up varies by ~10^6 instructions.
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run of {name!r} failed:\n{done.stderr[-3000:]}")
    return int(found[1])


def per_call(name: str, short: int, long: int) -> float:
    return (count(name, long) - count(name, short)) / (long - short)


def inner(name: str, loops: int) -> None:
    call = cases()[name]()
    for _ in range(WARMUP):
        call()
    for _ in range(loops):
        call()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="*", help="only the cases whose name contains a word")
    parser.add_argument("--calls", type=int, default=1000, help="calls in the long loop (1000)")
    parser.add_argument("--inner", nargs=2, metavar=("CASE", "LOOPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        inner(args.inner[0], int(args.inner[1]))
        return 0
    names = [n for n in cases() if not args.words or any(w in n for w in args.words)]
    scratch = tempfile.TemporaryDirectory(prefix="zego-callgrind-")
    if any(n.startswith("jwt ") for n in names) and jwt_tokens.KEYS_DIR not in os.environ:
        # Distinct tokens for every call, made once here (signing under valgrind is slow).
        jwt_tokens.prepare(Path(scratch.name), WARMUP + args.calls)
    print("| case | instructions per call |\n| --- | ---: |")
    for name in names:
        started = time.monotonic()
        cost = per_call(name, args.calls // 5, args.calls)
        print(f"| {name} | {cost:,.0f} |", flush=True)
        print(f"  ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    raise SystemExit(main())
