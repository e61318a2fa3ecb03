"""Server throughput and latency: ``zego-token serve`` against a bare Node.js ``http`` cluster
and against fastify (the framework a Node developer would deploy, with the same jobs).

All servers run at once on loopback with the same worker count (default: one per core) and
the same auth; wrk loads one at a time, in interleaved rounds (A B C A B C ...), with the same
request (GET /api/token?userID=..&expired_ts=.. with a Bearer credential). Prints per-round
numbers, the medians and the ratios ours/node and ours/fastify; compare numbers only within
one run. ``--auth jwt-hs256``, ``jwt-rs256`` (a PEM public key) and ``jwt-rs256-jwks`` (the
key from a JWKS served on loopback) compare the JWT path of ours and fastify with @fastify/jwt
(the bare Node server has no JWT): wrk rotates through ``--tokens`` distinct JWTs, each for its
own userID (bench/rotate_tokens.lua), so no server can answer from one remembered token.
``--limits redis`` counts both rate limits (per client IP and per credential, out of reach) in
one local redis-server for ours (``redis_url``) and fastify (@fastify/rate-limit's Redis store,
ioredis) alike (the bare Node server has no limits), and reports Redis's script calls per request.

    .venv/bin/python bench/bench_server.py             # 3 rounds of 10 s per server
    .venv/bin/python bench/bench_server.py --auth jwt-rs256
    .venv/bin/python bench/bench_server.py --limits redis
    .venv/bin/python bench/bench_server.py --quick     # one 1-second round, to check it works
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt_tokens
import pyspy
import report
import servers
import wrk

Run = tuple[int, str, wrk.WrkResult, float]  # round, server, wrk's numbers, server CPU seconds
ROTATE_SCRIPT = Path(__file__).resolve().parent / "rotate_tokens.lua"
JWT_TITLES = {
    "jwt-hs256": "HS256 JWT auth",
    "jwt-rs256": "RS256 JWT auth (PEM public key)",
    "jwt-rs256-jwks": "RS256 JWT auth (key from a JWKS)",
}


@dataclass(frozen=True)
class Load:
    """What wrk sends: one request with these headers, or the requests a Lua script makes."""

    headers: dict[str, str] | None = None
    script: tuple[Path, list[str]] | None = None

    def wrk(self) -> dict[str, Any]:
        return {"headers": self.headers, "script": self.script}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds (3)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server (3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="workers per server (cores)"
    )
    parser.add_argument("--quick", action="store_true", help="one 1-second round, no warm-up")
    parser.add_argument(
        "--profile", action="store_true", help="then sample one zego-token worker with py-spy"
    )
    parser.add_argument(
        "--auth",
        choices=("api_key", *jwt_tokens.KINDS),
        default="api_key",
        help="credential (api_key)",
    )
    parser.add_argument(
        "--limits",
        choices=("memory", "redis"),
        default="memory",
        help="where the rate limits count: in each worker, or in one redis-server (memory)",
    )
    parser.add_argument(
        "--tokens",
        type=int,
        default=jwt_tokens.COUNT,
        help=f"distinct JWTs and userIDs the load rotates through ({jwt_tokens.COUNT:,}; "
        "--quick: 200)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="ZEGO_TOKEN",
        help="also run this zego-token executable (an earlier version's venv) as a contender",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.warmup = 1, 1, 0
        if "--tokens" not in " ".join(argv or sys.argv):
            args.tokens = 200
    if args.seconds < 1 or args.rounds < 1 or args.workers < 1 or args.tokens < 1:
        parser.error("--seconds, --rounds, --workers and --tokens must be at least 1")

    jwt = args.auth != "api_key"
    in_redis = args.limits == "redis"
    title = (
        f"{JWT_TITLES[args.auth]}, {args.tokens:,} distinct tokens, zego-token vs fastify"
        if jwt
        else "zego-token vs Node.js and fastify"
    )
    if in_redis:
        title = title.replace(" vs Node.js and fastify", " vs fastify")
        title += ", rate limits in Redis"
    print(f"## Server: requests per second and latency, {title}\n")
    print("\n".join(report.machine_lines()))
    print(
        f"- {args.workers} workers each; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.seconds}s --latency; {args.rounds} rounds, servers interleaved "
        f"(A B C A B C) after {args.warmup} s warm-up each"
    )
    print(f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`\n")

    api_key = servers.new_api_key()
    runs: list[Run] = []
    script_calls: dict[tuple[int, str], tuple[int, int]] = {}
    profile = ""
    with tempfile.TemporaryDirectory(prefix="zego-bench-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            auth: servers.JwtAuth | None = None
            load = Load(headers={"Authorization": f"Bearer {api_key}"})
            if jwt:
                keys = jwt_tokens.make_keys(workdir / "jwt")
                sample = jwt_tokens.make_tokens(keys, args.auth, args.tokens)[0]
                url = (
                    stack.enter_context(jwt_tokens.serve_jwks(keys)) if "jwks" in args.auth else ""
                )
                auth = servers.JwtAuth(args.auth, keys, sample, url)
                load = Load(script=(ROTATE_SCRIPT, [str(keys.tokens(args.auth))]))
            credential = auth.sample[1] if auth else api_key
            redis = stack.enter_context(servers.run_redis(workdir)) if in_redis else None
            redis_url = redis.url if redis else ""
            ours = stack.enter_context(
                servers.run_ours(args.workers, workdir, api_key, jwt=auth, redis_url=redis_url)
            )
            contenders = [ours]
            if args.baseline is not None:
                contenders.append(
                    stack.enter_context(
                        servers.run_ours(
                            args.workers,
                            workdir,
                            api_key,
                            jwt=auth,
                            executable=args.baseline,
                            name="zego-token@baseline",
                            redis_url=redis_url,
                        )
                    )
                )
            if not jwt and not in_redis:
                contenders.append(
                    stack.enter_context(servers.run_node(args.workers, workdir, api_key))
                )
            contenders.append(
                stack.enter_context(
                    servers.run_fastify(
                        args.workers, workdir, api_key, jwt=auth, redis_url=redis_url
                    )
                )
            )
            if redis is not None:
                # Each counted its start-up checks there, not in memory.
                for pattern in ("zego-token:rl:*", "fastify-rate-limit-*"):
                    if not redis.keys(pattern):
                        raise RuntimeError(f"no {pattern} key in Redis: a limit is not counted")
            if args.warmup:
                for server in contenders:
                    wrk.run(server.token_url, seconds=args.warmup, **load.wrk())
            for round_no in range(1, args.rounds + 1):
                for server in contenders:
                    pids = server.pids()
                    cpu_before = servers.cpu_seconds(pids)
                    if redis is not None:
                        redis.reset()
                    result = wrk.run(
                        server.token_url,
                        seconds=args.seconds,
                        connections=args.connections,
                        threads=args.threads,
                        **load.wrk(),
                    )
                    cpu = servers.cpu_seconds(pids) - cpu_before
                    runs.append((round_no, server.name, result, cpu))
                    if redis is not None:
                        script_calls[round_no, server.name] = (
                            redis.script_calls(),
                            redis.reads(),
                        )
            if args.profile:
                profile = profile_worker(ours, args.seconds, load)
            metrics_status, metrics = servers.get(ours.base_url + "/metrics", credential)
            alive = [s.name for s in contenders if s.process.poll() is None]
        # One JSON line per request is the production log level's cost; count that it was paid.
        with ours.log.open(errors="replace") as log:
            access_lines = sum('"msg":"request"' in line for line in log)

    baselines = [s.name for s in contenders[1:]]
    print(rounds_table(runs))
    print()
    targets = {b: JWT_RPS_TARGET for b in baselines} if jwt else RPS_TARGETS
    if in_redis:
        targets = {"fastify": REDIS_RPS_TARGET}  # an earlier version of ours: 1.0
    print(summary(runs, "zego-token", baselines, targets))
    if script_calls:
        print()
        print(script_calls_table(runs, script_calls))
    sent = sum(r.requests for _, name, r, _ in runs if name == ours.name)
    print(
        f"\n- zego-token wrote {access_lines:,} JSON access-log lines for the "
        f"{sent:,} measured requests (plus warm-up); /metrics answered {metrics_status} "
        f"with {len(metrics):,} bytes; still running at the end: {', '.join(alive) or 'none'}"
    )
    if profile:
        print("\n### py-spy: one zego-token worker under the same load\n")
        print(profile)
    return 0


def profile_worker(server: servers.Server, seconds: int, load: Load) -> str:
    """Load the server with wrk while py-spy samples its first worker."""
    pids = server.pids()
    worker = pids[1] if len(pids) > 1 else pids[0]
    result: list[wrk.WrkResult] = []
    loader = threading.Thread(
        target=lambda: result.append(wrk.run(server.token_url, seconds=seconds + 2, **load.wrk()))
    )
    loader.start()
    try:
        time.sleep(1)  # let wrk open its connections first
        stacks = pyspy.record(worker, seconds)
    finally:
        loader.join()
    return pyspy.top_tables(stacks)


def rounds_table(runs: list[Run]) -> str:
    rows = [
        (
            n,
            name,
            report.count(r.requests_per_s),
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            report.count(r.requests),
            f"{cpu / r.requests * 1e6:.0f}" if r.requests else "-",
            r.non_2xx,
            r.socket_errors,
        )
        for n, name, r, cpu in runs
    ]
    return report.table(
        (
            "round",
            "server",
            "req/s",
            "p50 ms",
            "p99 ms",
            "requests",
            "server CPU us/req",
            "non-2xx",
            "socket errors",
        ),
        rows,
    )


# The targets: req/s ours/baseline at least this (the API-key path), p99 no worse; on the JWT
# path at least as many req/s as fastify with @fastify/jwt; with the limits in Redis, 1.5x
# fastify with @fastify/rate-limit's Redis store.
RPS_TARGETS = {"node": 1.2, "fastify": 1.8}
JWT_RPS_TARGET = 1.0
REDIS_RPS_TARGET = 1.5


def script_calls_table(runs: list[Run], calls: dict[tuple[int, str], tuple[int, int]]) -> str:
    """Redis script calls (round trips of a limit check) and Redis's socket reads (batches of
    commands that arrived together) per request, by round and server: wrk's count of requests
    answered, against Redis's counts in the same run."""
    rows = []
    for n, name, r, _ in runs:
        scripts, reads = calls[n, name]
        per = max(1, r.requests)
        rows.append((n, name, report.count(scripts), f"{scripts / per:.2f}", f"{reads / per:.2f}"))
    return report.table(
        ("round", "server", "Redis script calls", "calls per request", "Redis reads per request"),
        rows,
    )


def summary(runs: list[Run], ours: str, baselines: list[str], targets: dict[str, float]) -> str:
    def of(name: str) -> list[wrk.WrkResult]:
        return [r for _, n, r, _ in runs if n == name]

    def cpu_per_request(name: str) -> float:
        cpu = sum(c for _, n, _, c in runs if n == name)
        return cpu / max(1, sum(r.requests for _, n, r, _ in runs if n == name)) * 1e6

    rows = [
        (
            name,
            report.count(report.median([r.requests_per_s for r in of(name)])),
            f"{report.median([r.p50_ms for r in of(name)]):.2f}",
            f"{report.median([r.p99_ms for r in of(name)]):.2f}",
            f"{cpu_per_request(name):.0f}",
            sum(r.errors for r in of(name)),
        )
        for name in (ours, *baselines)
    ]
    medians = report.table(
        ("server (median of rounds)", "req/s", "p50 ms", "p99 ms", "CPU us/req", "errors"), rows
    )
    a = of(ours)
    rps_a = report.median([r.requests_per_s for r in a])
    p99_a = report.median([r.p99_ms for r in a])
    verdicts = []
    for baseline in baselines:
        b = of(baseline)
        rps_ratio = rps_a / report.median([r.requests_per_s for r in b])
        p99_ratio = p99_a / report.median([r.p99_ms for r in b])
        per_round = [x.requests_per_s / y.requests_per_s for x, y in zip(a, b, strict=True)]
        target = targets.get(baseline, 1.0)
        verdicts.append(
            (
                f"req/s {ours}/{baseline} >= {target:.1f}",
                f"{rps_ratio:.2f} (rounds {', '.join(f'{x:.2f}' for x in per_round)})",
                _verdict(rps_ratio >= target),
            )
        )
        verdicts.append(
            (f"p99 {ours}/{baseline} <= 1.0", f"{p99_ratio:.2f}", _verdict(p99_ratio <= 1.0))
        )
    for name in (ours, *baselines):
        errors = sum(r.errors for r in of(name))
        verdicts.append((f"errors on {name} = 0", str(errors), _verdict(errors == 0)))
    return medians + "\n\n" + report.table(("target", "measured", "result"), verdicts)


def _verdict(ok: bool) -> str:
    return "met" if ok else "missed"


if __name__ == "__main__":
    raise SystemExit(main())
