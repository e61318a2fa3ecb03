"""Run ``wrk`` (Debian's package) against a URL and read its summary into numbers."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    """wrk did not run, or printed something this parser does not understand."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse(output: str) -> WrkResult:
    """Read ``wrk --latency`` output. Non-2xx counts wrk's "Non-2xx or 3xx responses"."""
    latencies = {m[0]: float(m[1]) * _UNITS_MS[m[2]] for m in _LATENCY.findall(output)}
    requests = _REQUESTS.search(output)
    rate = _RATE.search(output)
    if requests is None or rate is None or not {"50", "99"} <= latencies.keys():
        raise WrkError(f"cannot read wrk's output (was --latency given?):\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket = _SOCKET.search(output)
    return WrkResult(
        requests=int(requests[1]),
        requests_per_s=float(rate[1]),
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


def run(
    url: str,
    *,
    seconds: int,
    connections: int = 64,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    script: tuple[Path, list[str]] | None = None,
) -> WrkResult:
    """One closed-loop wrk run: ``connections`` keep-alive connections as fast as answered;
    ``script`` is a Lua file and its arguments (after ``--``) that make the requests."""
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkError("wrk is not installed: apt-get install wrk (scripts/bootstrap does it)")
    command = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script[0])]
    command.append(url)
    if script is not None:
        command += ["--", *script[1]]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr.strip()}")
    return parse(done.stdout)
