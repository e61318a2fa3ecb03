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
    return {
        **library_cases(),
        **jwt_cases(),
        "server api-key request": server_request,
        "server: the event loop alone": event_loop_alone,
    }


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


class _Headers:
    """An RSGI header map (Granian's is in Rust): looked up by lower-case name."""

    def __init__(self, pairs: dict[str, str]) -> None:
        self._pairs = pairs

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._pairs.get(name, default)

    def get_all(self, name: str) -> list[str]:
        return [self._pairs[name]] if name in self._pairs else []

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs.items())


class _Scope:
    proto = "http"
    method = "GET"
    path = "/api/token"
    query_string = "userID=bench_user&expired_ts=3600"
    client = "127.0.0.1:50000"

    def __init__(self, api_key: str) -> None:
        self.headers = _Headers({"authorization": f"Bearer {api_key}", "host": "127.0.0.1"})


class _Protocol:
    """What Granian hands the app to answer with; keeps the last answer to check it."""

    status = 0

    def response_bytes(self, status: int, headers: object, body: bytes) -> None:
        self.status = status

    def response_empty(self, status: int, headers: object) -> None:
        self.status = status


def event_loop_alone() -> Callable[[], object]:
    """What ``server_request`` spends outside the app: running one coroutine to completion on
    asyncio's loop (Granian's own scheduling differs; subtract this to compare the app)."""
    import asyncio

    loop = asyncio.new_event_loop()
    proto = _Protocol()

    async def answer() -> None:
        proto.response_bytes(200, [], b"")

    return lambda: loop.run_until_complete(answer())


def server_request() -> Callable[[], object]:
    """One ``GET /api/token`` with an API key through the server's RSGI app, in-process: the
    bench's configuration (both limits in memory, JSON access log, metrics shared between
    workers through files as with ``--workers 2``), without Granian, the socket or the kernel:
    the server's own Python work per request."""
    import asyncio
    import atexit
    import contextlib

    from bench_library import APP_ID, SECRET
    from servers import new_api_key, ours_config

    folder = Path(tempfile.mkdtemp(prefix="callgrind-server-"))
    atexit.register(shutil.rmtree, folder, True)
    api_key = new_api_key()
    (folder / "config.toml").write_text(ours_config(api_key))
    (folder / "metrics").mkdir()
    # Before prometheus_client is imported: it picks its file-backed values at import.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder / "metrics")
    from zego_token.server.app import create_app
    from zego_token.server.config import load_settings

    env = {
        "ZEGO_APP_ID": str(APP_ID),
        "ZEGO_SERVER_SECRET": SECRET,
        "ZEGO_TOKEN_CONFIG": str(folder / "config.toml"),
    }
    # The access log goes where the bench's server writes it: a file, one line per request.
    log = (folder / "access.log").open("w")
    with contextlib.redirect_stdout(log):
        app = create_app(load_settings(env=env))
    loop = asyncio.new_event_loop()
    scope, proto = _Scope(api_key), _Protocol()

    def call() -> object:
        loop.run_until_complete(app.__rsgi__(scope, proto))
        if proto.status != 200:
            raise SystemExit(f"the server answered {proto.status}, not 200")
        return proto.status

    return call


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
