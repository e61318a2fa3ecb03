"""Server throughput and latency: ``zego-token serve`` against a bare Node.js ``http`` cluster
and against fastify (the framework a Node developer would deploy, with the same jobs).

All servers run at once on loopback with the same worker count (default: one per core) and
the same auth; wrk loads one at a time, in interleaved rounds (A B C A B C ...), with the same
request (GET /api/token?userID=..&expired_ts=.. with a Bearer credential). Prints per-round
numbers, the medians and the ratios ours/node and ours/fastify; compare numbers only within
one run. ``--auth jwt`` compares the HS256 JWT path of ours and fastify (the bare Node server
has no JWT).

    .venv/bin/python bench/bench_server.py             # 3 rounds of 10 s per server
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
from pathlib import Path

import pyspy
import report
import servers
import wrk

Run = tuple[int, str, wrk.WrkResult, float]  # round, server, wrk's numbers, server CPU seconds


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
        "--auth", choices=("api_key", "jwt"), default="api_key", help="credential (api_key)"
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
    if args.seconds < 1 or args.rounds < 1 or args.workers < 1:
        parser.error("--seconds, --rounds and --workers must be at least 1")

    jwt = args.auth == "jwt"
    title = "HS256 JWT auth, zego-token vs fastify" if jwt else "zego-token vs Node.js and fastify"
    print(f"## Server: requests per second and latency, {title}\n")
    print("\n".join(report.machine_lines()))
    print(
        f"- {args.workers} workers each; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.seconds}s --latency; {args.rounds} rounds, servers interleaved "
        f"(A B C A B C) after {args.warmup} s warm-up each"
    )
    print(f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`\n")

    api_key = servers.new_api_key()
    jwt_secret = servers.new_jwt_secret() if jwt else None
    credential = servers.new_jwt(jwt_secret) if jwt_secret else api_key
    headers = {"Authorization": f"Bearer {credential}"}
    runs: list[Run] = []
    profile = ""
    with tempfile.TemporaryDirectory(prefix="zego-bench-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            ours = stack.enter_context(
                servers.run_ours(args.workers, workdir, api_key, jwt_secret=jwt_secret)
            )
            contenders = [ours]
            if args.baseline is not None:
                contenders.append(
                    stack.enter_context(
                        servers.run_ours(
                            args.workers,
                            workdir,
                            api_key,
                            jwt_secret=jwt_secret,
                            executable=args.baseline,
                            name="zego-token@baseline",
                        )
                    )
                )
            if not jwt:
                contenders.append(
                    stack.enter_context(servers.run_node(args.workers, workdir, api_key))
                )
            contenders.append(
                stack.enter_context(
                    servers.run_fastify(args.workers, workdir, api_key, jwt_secret=jwt_secret)
                )
            )
            if args.warmup:
                for server in contenders:
                    wrk.run(server.token_url, seconds=args.warmup, headers=headers)
            for round_no in range(1, args.rounds + 1):
                for server in contenders:
                    pids = server.pids()
                    cpu_before = servers.cpu_seconds(pids)
                    result = wrk.run(
                        server.token_url,
                        seconds=args.seconds,
                        connections=args.connections,
                        threads=args.threads,
                        headers=headers,
                    )
                    cpu = servers.cpu_seconds(pids) - cpu_before
                    runs.append((round_no, server.name, result, cpu))
            if args.profile:
                profile = profile_worker(ours, args.seconds, headers)
            metrics_status, metrics = servers.get(ours.base_url + "/metrics", credential)
            alive = [s.name for s in contenders if s.process.poll() is None]
        # One JSON line per request is the production log level's cost; count that it was paid.
        with ours.log.open(errors="replace") as log:
            access_lines = sum('"msg":"request"' in line for line in log)

    baselines = [s.name for s in contenders[1:]]
    print(rounds_table(runs))
    print()
    print(summary(runs, "zego-token", baselines))
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


def profile_worker(server: servers.Server, seconds: int, headers: dict[str, str]) -> str:
    """Load the server with wrk while py-spy samples its first worker."""
    pids = server.pids()
    worker = pids[1] if len(pids) > 1 else pids[0]
    result: list[wrk.WrkResult] = []
    loader = threading.Thread(
        target=lambda: result.append(
            wrk.run(server.token_url, seconds=seconds + 2, headers=headers)
        )
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


# The targets: req/s ours/baseline at least this, p99 no worse than node's.
RPS_TARGETS = {"node": 1.0, "fastify": 1.5}


def summary(runs: list[Run], ours: str, baselines: list[str]) -> str:
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
        target = RPS_TARGETS.get(baseline, 1.0)
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
