"""Soak: ``zego-token serve`` under full load for minutes, watching every process's memory.

wrk keeps 64 connections busy (closed loop: the highest rate the server sustains) for 120 s
after a warm-up; the RSS of the main process and of every worker is read from /proc at the
start, every quarter of the run and at the end. Targets: every worker's RSS grows under 10 %,
and no response is anything but 2xx.

    .venv/bin/python bench/soak.py               # 120 s
    .venv/bin/python bench/soak.py --quick       # a one-second check that it works
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

import report
import servers
import wrk

GROWTH_LIMIT = 0.10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120, help="seconds under load (120)")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of warm-up (10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server workers (cores)"
    )
    parser.add_argument("--quick", action="store_true", help="one second of load, 1 s warm-up")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup = 1, 1
    if args.seconds < 1 or args.workers < 1 or args.warmup < 0:
        parser.error("--seconds and --workers must be at least 1")

    print("## Soak: zego-token under full load, memory of every process\n")
    print("\n".join(report.machine_lines()))
    print(
        f"- {args.workers} workers; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.seconds}s after {args.warmup} s warm-up; RSS from /proc/PID/status"
    )
    print(f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`\n")

    api_key = servers.new_api_key()
    headers = {"Authorization": f"Bearer {api_key}"}
    with (
        tempfile.TemporaryDirectory(prefix="zego-soak-") as tmp,
        servers.run_ours(args.workers, Path(tmp), api_key) as server,
    ):
        if args.warmup:
            wrk.run(server.token_url, seconds=args.warmup, headers=headers)
        pids = server.pids()
        samples: list[dict[int, int]] = [{pid: servers.rss_kib(pid) for pid in pids}]
        outcome: list[wrk.WrkResult | BaseException] = []

        def load() -> None:
            try:
                outcome.append(
                    wrk.run(
                        server.token_url,
                        seconds=args.seconds,
                        connections=args.connections,
                        threads=args.threads,
                        headers=headers,
                    )
                )
            except BaseException as error:  # handed to the main thread below
                outcome.append(error)

        loader = threading.Thread(target=load)
        loader.start()
        while loader.is_alive():
            loader.join(timeout=args.seconds / 4)
            samples.append({pid: servers.rss_kib(pid) for pid in pids})
        names = {pid: servers.command_name(pid) for pid in pids}
        survivors = [pid for pid in pids if servers.rss_kib(pid) > 0]
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    result = outcome[0]

    # Under a main process the workers are its children; a lone process is its own worker.
    workers = pids[1:] or pids
    rows = []
    worst = 0.0
    for pid in pids:
        start, end = samples[0][pid], samples[-1][pid]
        peak = max(sample[pid] for sample in samples)
        growth = (end - start) / start if start else float("inf")
        role = "worker" if pid in workers else "main"
        if role == "worker":
            worst = max(worst, growth)
        rows.append(
            (
                role,
                pid,
                names[pid],
                f"{start / 1024:.1f}",
                f"{peak / 1024:.1f}",
                f"{end / 1024:.1f}",
                f"{growth * 100:+.1f}%",
            )
        )
    print(
        report.table(
            ("process", "pid", "command", "RSS start MiB", "RSS peak MiB", "RSS end MiB", "growth"),
            rows,
        )
    )
    print()
    print(
        report.table(
            ("req/s", "p50 ms", "p99 ms", "requests", "non-2xx", "socket errors"),
            [
                (
                    report.count(result.requests_per_s),
                    f"{result.p50_ms:.2f}",
                    f"{result.p99_ms:.2f}",
                    report.count(result.requests),
                    result.non_2xx,
                    result.socket_errors,
                )
            ],
        )
    )
    print()
    workers_alive = len([p for p in survivors if p in workers])
    print(
        report.table(
            ("target", "measured", "result"),
            [
                (
                    "every worker's RSS growth < 10%",
                    f"worst {worst * 100:+.1f}% over {len(workers)} workers",
                    _met(worst < GROWTH_LIMIT),
                ),
                ("non-2xx responses = 0", str(result.non_2xx), _met(result.non_2xx == 0)),
                ("socket errors = 0", str(result.socket_errors), _met(result.socket_errors == 0)),
                (
                    "all processes alive at the end",
                    f"{workers_alive} of {len(workers)} workers",
                    _met(workers_alive == len(workers)),
                ),
            ],
        )
    )
    return 0


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


if __name__ == "__main__":
    raise SystemExit(main())
