"""Chaos: ``zego-token serve`` (2 workers, JWT + API keys, limits in Redis behind Sentinel) under
steady load while faults are injected one after another, every answer checked.

Everything runs on loopback and stops by itself; every process started here is ended at exit.
The faults, in a fixed cycle (one every ``--every`` seconds):

    redis_restart_empty  kill -9 the Redis primary and start it again at once, empty
    jwks_slow            the identity provider answers its JWKS after 5 s, for a while
    sentinel_failover    kill -9 the primary; the sentinels promote the replica
    idle_sockets         200 idle TCP connections held open
    jwks_rotate          a new signing key published and used at once; the oldest retired
    redis_stop           SIGSTOP the primary for 8 s (a hung host), then SIGCONT
    sighup               SIGHUP to the server: Granian respawns its workers
    jwks_down            the JWKS port closed for a while, then open again
    slowloris            50 connections sending their headers a byte a second
    worker_sigkill       SIGKILL one worker process (Granian starts another)

Checked for every request: a 200 carries a token that opens with the app's secret, for the user
asked and the room and privileges asked (a wrong token); a credential that must be refused
(wrong API key, unknown signing key, expired JWT, a JWT for another user) never gets a token; a
JWT signed with a published key never gets a 401 (a rotated key refused); per identity and per
window no more than the limit is admitted (over-admission).

Over-admission is counted in the server's own windows. A window opens at its key's first request
and, with a failover or a lost key, need not start where the previous one's end plus the window
length puts it, so windows are not followed from the client's side: every 429 says when its
window closes (Retry-After, the seconds left rounded up), which puts the close between the
request's send time + Retry-After - 1 and its answer time + Retry-After. The 429s whose ranges
meet (or lie within half a window of each other) give one close; the 200s certainly between two
closes are that window's, and a 200 whose send-to-answer span meets a close's range is left out
as ambiguous. Two closes certainly less than a window apart are reported too (that window's
limit came too soon, which no count per window shows). The client-side count of earlier runs
(a window opened by the first request after the previous one's end, requests within 0.5 s of
its end left out) is reported next to it.

    .venv/bin/python bench/chaos.py                 # 600 s, the documented run
    .venv/bin/python bench/chaos.py --seconds 60 --every 5    # a quick check
    .venv/bin/python bench/chaos.py --faults redis_stop,sighup --seconds 120   # some faults only
    .venv/bin/python bench/chaos.py --faults sentinel_failover --seconds 75 --every 15 --limit 128
    .venv/bin/python bench/chaos.py --faults sentinel_failover --seconds 75 --every 15 --limit 128 \
        --on-store-failure refuse
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test fixtures: Redis with sentinels, the identity provider

import httpx  # noqa: E402
from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider  # noqa: E402
from tests.fixtures.redis_ha import SERVICE, RedisProcess, SentinelSet  # noqa: E402
from tests.fixtures.redis_server import free_port  # noqa: E402

from zego_token.token04 import decode_token04  # noqa: E402

APP_ID = 1234567890
SECRET = secrets.token_hex(16)
API_KEY = "zt_chaos_" + secrets.token_urlsafe(18)
LIMIT = 60  # per identity per window
WINDOW = 30
USERS = [f"user-{n}" for n in range(20)]
CLIENTS = 6
EDGE = 0.5


@dataclass
class Outcome:
    sent: float
    done: float
    kind: str  # jwt | api_key | refuse
    identity: str
    status: int
    problem: str | None = None
    code: str | None = None
    retry_after: int | None = None  # a 429's Retry-After


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    faults: list[tuple[float, str, str]] = field(default_factory=list)  # (t, fault, note)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Signer:
    """The identity provider's current signing kid, rotated by the jwks_rotate fault."""

    def __init__(self, idp: IdentityProvider) -> None:
        self.idp = idp
        idp.add_key("rogue", publish=False)  # a real RSA key the JWKS never lists
        self.kid = "key-1"
        self.rotations = 0
        self.lock = threading.Lock()

    def token(self, user: str, **extra: object) -> tuple[str, str]:
        with self.lock:
            kid = self.kid
        return self.idp.rs256(self.idp.claims(sub=user, **extra), kid=kid), kid

    def rotate(self) -> str:
        self.rotations += 1
        kid = f"key-{self.rotations + 1}"
        self.idp.add_key(kid)  # generated and published
        with self.lock:
            self.kid = kid
        # Keep the two newest published: a token signed a moment ago still verifies.
        del self.idp.published[:-2]
        return kid


def server_config(
    idp: IdentityProvider, sentinels: SentinelSet, log_level: str, on_store_failure: str = "local"
) -> str:
    digest = hashlib.sha256(API_KEY.encode()).hexdigest()
    return f"""
[auth]
modes = ["api_key", "jwt"]

[[auth.api_keys]]
name = "backend"
sha256 = "{digest}"

[auth.jwt]
algorithms = ["RS256"]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
jwks_url = "{idp.jwks_url}"
jwks_cache_seconds = 60
jwks_timeout = 2.0

[rate_limit]
per_identity = {LIMIT}
window = {WINDOW}
sentinels = {json.dumps(sentinels.addresses)}
sentinel_service = "{SERVICE}"
on_store_failure = "{on_store_failure}"

[server]
shutdown_timeout = 3

[logging]
level = "{log_level}"
"""


@contextlib.contextmanager
def token_server(directory: Path, config: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    path = directory / "chaos.toml"
    path.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZEGO_", "PROMETHEUS_"))}
    env.update(ZEGO_APP_ID=str(APP_ID), ZEGO_SERVER_SECRET=SECRET, PYTHONUNBUFFERED="1")
    log = (directory / "server.log").open("wb")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zego_token.server",
            "--config",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = _wait_healthy(f"http://127.0.0.1:{port}", directory / "server.log", process)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _wait_healthy(url: str, log: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return url
        time.sleep(0.1)
    raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")


def workers(main_pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
                if int(stat[1]) == main_pid and stat[0] not in (b"Z", b"X"):
                    found.append(int(entry.name))
    return found


# --- the load -----------------------------------------------------------------------------------


def client_loop(url: str, signer: Signer, run: Run, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            roll = rng.random()
            user = rng.choice(USERS)
            room = f"room-{rng.randrange(5)}"
            params = {"userID": user, "roomID": room}
            if roll < 0.75:
                kind, (jwt, kid) = "jwt", signer.token(user)
                headers = {"Authorization": f"Bearer {jwt}"}
                identity = user
            elif roll < 0.90:
                kind, kid, identity = "api_key", "", "backend"
                headers = {"Authorization": f"Bearer {API_KEY}"}
            else:
                kind, kid, identity = "refuse", "", "-"
                headers = refused_credential(rng, signer, user)
            sent = time.monotonic()
            retry_after = None
            try:
                response = client.get(f"{url}/api/token", params=params, headers=headers)
                status, body = response.status_code, response.content
                if status == 429:
                    retry_after = int(response.headers["retry-after"])
            except httpx.HTTPError:  # a worker killed mid-request, a timeout
                status, body = 0, b""
            outcome = Outcome(sent, time.monotonic(), kind, identity, status)
            outcome.retry_after = retry_after
            if status >= 400:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    outcome.code = json.loads(body)["error"]["code"]
            outcome.problem = check(outcome, body, params, kid, signer)
            with run.lock:
                run.outcomes.append(outcome)


def refused_credential(rng: random.Random, signer: Signer, user: str) -> dict[str, str]:
    now = int(time.time())
    choice = rng.randrange(4)
    if choice == 0:
        token = "zt_wrong_" + secrets.token_urlsafe(18)
    elif choice == 1:
        token = signer.idp.rs256(signer.idp.claims(sub=user), kid="rogue")
    elif choice == 2:
        token, _ = signer.token(user, iat=now - 7200, exp=now - 3600)
    else:
        token, _ = signer.token(user + "-other")  # a valid JWT for someone else
    return {"Authorization": f"Bearer {token}"}


def check(
    outcome: Outcome, body: bytes, params: dict[str, str], kid: str, signer: Signer
) -> str | None:
    if outcome.status == 200:
        if outcome.kind == "refuse":
            return "token_where_refusal_due"
        try:
            token = json.loads(body)["token"]
            opened = decode_token04(token, SECRET, app_id=APP_ID, user_id=params["userID"])
            payload = json.loads(opened.payload)
        except Exception:
            return "wrong_token"
        if payload.get("room_id") != params["roomID"] or payload.get("stream_id_list") is not None:
            return "wrong_token"
        if payload.get("privilege") != {"1": 1, "2": 0}:
            return "wrong_token"
        return None
    if outcome.status == 401 and outcome.kind == "jwt" and kid in signer.idp.published:
        return "401_for_published_key"
    if outcome.status >= 500 and outcome.status != 503:
        return f"status_{outcome.status}"
    return None


# --- the faults ---------------------------------------------------------------------------------


class Faults:
    def __init__(
        self,
        sentinels: SentinelSet,
        idp: IdentityProvider,
        signer: Signer,
        server: subprocess.Popen[bytes],
        url: str,
    ) -> None:
        self.sentinels, self.idp, self.signer, self.server = sentinels, idp, signer, server
        self.host, port = url.rsplit("/", 1)[1].split(":")
        self.port = int(port)

    def cycle(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("redis_restart_empty", self.redis_restart_empty),
            ("jwks_slow", self.jwks_slow),
            ("sentinel_failover", self.sentinel_failover),
            ("idle_sockets", self.idle_sockets),
            ("jwks_rotate", self.jwks_rotate),
            ("redis_stop", self.redis_stop),
            ("sighup", self.sighup),
            ("jwks_down", self.jwks_down),
            ("slowloris", self.slowloris),
            ("worker_sigkill", self.worker_sigkill),
        ]

    def _primary(self) -> RedisProcess | None:
        port = self.sentinels.primary_port()
        return None if port is None else self.sentinels.server(port)

    def redis_restart_empty(self) -> str:
        primary = self._primary()
        if primary is None:
            return "no primary"
        primary.kill()
        primary.start()
        return f"primary :{primary.port} killed and restarted empty"

    def sentinel_failover(self) -> str:
        old = self.sentinels.primary_port()
        if old is None:
            return "no primary"
        self.sentinels.server(old).kill()
        began = time.monotonic()
        while time.monotonic() - began < 30:
            now = self.sentinels.primary_port()
            if now not in (None, old):
                break
            time.sleep(0.05)
        promoted = time.monotonic() - began
        self.sentinels.server(old).start()  # comes back; the sentinels make it a replica
        new = self.sentinels.primary_port()
        return f"primary :{old} killed, :{new} promoted after {promoted:.2f} s"

    def redis_stop(self) -> str:
        primary = self._primary()
        if primary is None:
            return "no primary"
        primary.pause()
        time.sleep(8)
        primary.resume()
        return f"primary :{primary.port} stopped 8 s"

    def jwks_slow(self) -> str:
        self.idp.delay = 5.0
        time.sleep(10)
        self.idp.delay = 0.0
        return "JWKS answers after 5 s, for 10 s"

    def jwks_down(self) -> str:
        self.idp.stop()
        time.sleep(10)
        self.idp.start()
        return "JWKS port closed 10 s"

    def jwks_rotate(self) -> str:
        return f"now signing with {self.signer.rotate()}; published {self.idp.published}"

    def sighup(self) -> str:
        self.server.send_signal(signal.SIGHUP)
        return "SIGHUP"

    def worker_sigkill(self) -> str:
        found = workers(self.server.pid)
        if not found:
            return "no worker"
        victim = random.choice(found)
        os.kill(victim, signal.SIGKILL)
        return f"worker {victim} killed"

    def idle_sockets(self) -> str:
        with ExitStack() as stack:
            for _ in range(200):
                stack.enter_context(socket.create_connection((self.host, self.port)))
            time.sleep(10)
        return "200 idle connections for 10 s"

    def slowloris(self) -> str:
        with ExitStack() as stack:
            socks = [
                stack.enter_context(socket.create_connection((self.host, self.port)))
                for _ in range(50)
            ]
            request = b"GET /api/token?userID=slow HTTP/1.1\r\nHost: x\r\nX-Slow: "
            for index in range(10):
                for sock in socks:
                    with contextlib.suppress(OSError):
                        sock.send(request[index : index + 1] if index < len(request) else b"a")
                time.sleep(1)
        return "50 connections sending a byte a second for 10 s"


# --- the report ---------------------------------------------------------------------------------


def limited(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    """The requests the identity limit decided (200 or 429), per identity, by send time."""
    by_identity: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.kind != "refuse" and outcome.status in (200, 429):
            by_identity[outcome.identity].append(outcome)
    for requests in by_identity.values():
        requests.sort(key=lambda o: o.sent)
    return by_identity


def window_closes(requests: list[Outcome]) -> list[tuple[float, float]]:
    """The ranges in which the server's windows closed, as its 429s tell them, in order."""
    closes: list[tuple[float, float]] = []
    for outcome in requests:
        if outcome.retry_after is None:
            continue
        low, high = outcome.sent + outcome.retry_after - 1, outcome.done + outcome.retry_after
        if closes and low < closes[-1][1] + WINDOW / 2 and high > closes[-1][0] - WINDOW / 2:
            last_low, last_high = closes[-1]
            if low < last_high and high > last_low:  # the same close, known more closely
                closes[-1] = (max(low, last_low), min(high, last_high))
            else:  # answers that disagree: the close is somewhere in both
                closes[-1] = (min(low, last_low), max(high, last_high))
        else:
            closes.append((low, high))
    return closes


def over_admission(outcomes: list[Outcome], began: float) -> tuple[int, int, list[str], list[str]]:
    """(requests admitted beyond the limit, ambiguous requests left out, the windows over, the
    windows shorter than ``WINDOW``), per identity in the server's windows (``window_closes``).
    Admissions after the last close are one window if they span less than a window, else not
    counted."""
    over = ambiguous = 0
    windows: list[str] = []
    short: list[str] = []
    for identity, requests in limited(outcomes).items():
        closes = window_closes(requests)
        admitted: Counter[int] = Counter()
        last_high = closes[-1][1] if closes else float("-inf")
        tail = [o for o in requests if o.status == 200 and o.sent > last_high]
        for outcome in requests:
            if outcome.status != 200 or outcome.sent > last_high:
                continue
            index = next(i for i, (_, high) in enumerate(closes) if outcome.sent < high)
            low = closes[index][0]
            before = closes[index - 1][1] if index else float("-inf")
            if outcome.done < low and outcome.sent > before:
                admitted[index] += 1
            else:
                ambiguous += 1
        if tail and tail[-1].done - tail[0].sent < WINDOW:
            admitted[len(closes)] = len(tail)
        for index in range(1, len(closes)):
            # a window certainly shorter than WINDOW (by more than a second): its limit came
            # too soon, which no count per window shows
            longest = closes[index][1] - closes[index - 1][0]
            if longest < WINDOW - 1:
                short.append(
                    f"{identity} window closing at {closes[index][0] - began:.1f} s lasted "
                    f"{longest:.1f} s at most"
                )
        for index, count in sorted(admitted.items()):
            if count > LIMIT:
                over += count - LIMIT
                end = closes[index][0] - began if index < len(closes) else None
                windows.append(
                    f"{identity} window closing at "
                    f"{'the end' if end is None else f'{end:.1f} s'}: {count} admitted"
                )
    return over, ambiguous, windows, short


def over_admission_client_windows(
    outcomes: list[Outcome], began: float
) -> tuple[int, int, list[str]]:
    """The client-side count: windows opened by the first counted request after the previous
    one closed, requests within ``EDGE`` of a window's end left out as ambiguous."""
    by_identity = limited(outcomes)
    over = ambiguous = 0
    windows: list[str] = []

    def close(identity: str, start: float | None, admitted: int) -> int:
        if start is not None and admitted > LIMIT:
            windows.append(
                f"{identity} {start - began:.1f}-{start - began + WINDOW:.1f} s: "
                f"{admitted} admitted"
            )
        return max(0, admitted - LIMIT)

    for identity, requests in by_identity.items():
        start, admitted = None, 0
        for outcome in requests:
            if start is None or outcome.sent >= start + WINDOW:
                over += close(identity, start, admitted)
                start, admitted = outcome.sent, 0
            end = start + WINDOW
            if outcome.sent > end - EDGE or outcome.done > end - EDGE:
                ambiguous += 1
                continue
            admitted += outcome.status == 200
        over += close(identity, start, admitted)
    return over, ambiguous, windows


def after_fault(run: Run, began: float, status: int) -> dict[str, int]:
    """The answers of ``status``, by the fault injected last before each was sent."""
    counts: Counter[str] = Counter()
    for outcome in run.outcomes:
        if outcome.status == status:
            at = outcome.sent - began
            last = [name for t, name, _ in run.faults if t <= at]
            counts[last[-1] if last else "(none yet)"] += 1
    return dict(counts)


def report(run: Run, began: float, seconds: float, signer: Signer) -> dict[str, object]:
    statuses = Counter(o.status for o in run.outcomes)
    codes = Counter(f"{o.status} {o.code}" for o in run.outcomes if o.code)
    problems = Counter(o.problem for o in run.outcomes if o.problem)
    over, ambiguous, windows, short = over_admission(run.outcomes, began)
    client_over, client_ambiguous, client_windows = over_admission_client_windows(
        run.outcomes, began
    )
    return {
        "seconds": round(seconds, 1),
        "requests": len(run.outcomes),
        "statuses": dict(sorted(statuses.items())),
        "error_codes": dict(sorted(codes.items())),
        "tokens_checked": sum(o.status == 200 and o.kind != "refuse" for o in run.outcomes),
        "wrong_tokens": problems.get("wrong_token", 0),
        "tokens_where_refusal_due": problems.get("token_where_refusal_due", 0),
        "refusals_due": sum(o.kind == "refuse" for o in run.outcomes),
        "401_for_published_keys": problems.get("401_for_published_key", 0),
        "over_admission": over,
        "over_admission_ambiguous_left_out": ambiguous,
        "over_admission_windows": windows,
        "windows_shorter_than_the_window": len(short),
        "short_windows": short,
        "over_admission_client_windows": client_over,
        "over_admission_client_windows_ambiguous_left_out": client_ambiguous,
        "over_admission_client_windows_over": client_windows,
        "other_5xx": sum(v for k, v in problems.items() if k.startswith("status_")),
        "transport_errors": statuses.get(0, 0),
        "transport_errors_after": after_fault(run, began, 0),
        "rotations": signer.rotations,
        "faults": [f"{t:7.1f} s  {name}: {note}" for t, name, note in run.faults],
    }


# Granian's line, and the server's rewrite of it (server/granian_workers.py)
KILL_MARKERS = ("refused to gracefully stop", "had already exited when Granian")


def kill_lines(lines: list[str]) -> dict[str, int]:
    """Granian's "Killing (old) worker-N after it refused to gracefully stop" (a warning), and
    the same line rewritten at info by the server (the worker had already exited), split by
    whether each of the worker's processes that Granian was stopping had logged "worker
    stopped" before it."""
    records = []
    for line in lines:
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    pids: dict[int, list[int]] = defaultdict(list)  # worker slot -> its process IDs
    stopped: set[int] = set()
    counts: Counter[str] = Counter()
    for record in records:
        message = str(record.get("msg", ""))
        if message == "worker stopped":
            stopped.add(int(record["pid"]))
        elif message.startswith("Spawning worker-"):
            spawned, pid = message.removeprefix("Spawning worker-").split(" with PID: ")
            pids[int(spawned)].append(int(pid))
        elif any(marker in message for marker in KILL_MARKERS):
            slot = int(message.split("worker-")[1].split(" ")[0])
            old = message.startswith("Killing old") or "had already exited" in message
            candidates = pids[slot][:-1][-1:] if old else pids[slot][-1:]
            had = bool(candidates) and all(pid in stopped for pid in candidates)
            level = "warning" if record.get("level") == "warning" else "rewritten at info"
            counts[f"{level}, worker had logged 'worker stopped': {'yes' if had else 'no'}"] += 1
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    global LIMIT  # --limit: read by server_config and by the over-admission counts
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600, help="length of the run (600)")
    parser.add_argument("--every", type=float, default=25, help="seconds between faults (25)")
    parser.add_argument("--json", metavar="FILE", help="also write the report here")
    parser.add_argument(
        "--faults", help="a comma-separated subset of the cycle, in its order (default: all)"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["info", "warning"],
        help="the server's; info also checks Granian's kill lines against its workers' exits",
    )
    parser.add_argument("--server-log", metavar="FILE", help="keep the server's log here")
    parser.add_argument(
        "--limit", type=int, default=LIMIT, help=f"requests per identity and window ({LIMIT})"
    )
    parser.add_argument(
        "--on-store-failure",
        default="local",
        choices=["local", "refuse"],
        help="rate_limit.on_store_failure: count in memory while Redis is away, or answer 503",
    )
    args = parser.parse_args(argv)
    LIMIT = args.limit
    with tempfile.TemporaryDirectory(prefix="zego-chaos-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        sentinels = SentinelSet(directory / "redis", stack)
        idp = IdentityProvider().start()
        stack.callback(idp.stop)
        signer = Signer(idp)
        config = server_config(idp, sentinels, args.log_level, args.on_store_failure)
        url, server = stack.enter_context(token_server(directory, config))
        run, stop = Run(), threading.Event()
        threads = [
            threading.Thread(target=client_loop, args=(url, signer, run, stop, n), daemon=True)
            for n in range(CLIENTS)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        faults = Faults(sentinels, idp, signer, server, url)
        cycle = faults.cycle()
        if args.faults:
            wanted = set(args.faults.split(","))
            unknown = wanted - {name for name, _ in cycle}
            if unknown:
                parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
            cycle = [(name, inject) for name, inject in cycle if name in wanted]
        index = 0
        try:
            while time.monotonic() - began + args.every <= args.seconds:
                time.sleep(max(0.0, began + (index + 1) * args.every - time.monotonic()))
                name, inject = cycle[index % len(cycle)]
                at = time.monotonic() - began
                try:
                    note = inject()
                except Exception as error:  # a fault that could not be injected is reported
                    note = f"not injected: {type(error).__name__}: {error}"
                run.faults.append((at, name, note))
                print(f"{at:7.1f} s  {name}: {note}", flush=True)
                index += 1
            time.sleep(max(0.0, began + args.seconds - time.monotonic()))
        finally:
            stop.set()
            for thread in threads:
                thread.join(15)
        result = report(run, began, time.monotonic() - began, signer)
        lines = (directory / "server.log").read_text(errors="replace").splitlines()
        result["server_log_errors"] = [
            line[:300]
            for line in lines
            if '"level":"error"' in line and '"msg":"request"' not in line
        ][:20]
        result["server_log_warnings"] = dict(
            Counter(
                json.loads(line).get("msg", "")[:80]
                for line in lines
                if line.startswith("{") and '"level":"warning"' in line
            )
        )
        if args.log_level == "info":
            result["granian_kill_lines"] = kill_lines(lines)
        if args.server_log:
            Path(args.server_log).write_text("\n".join(lines) + "\n")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    bad = (
        "wrong_tokens",
        "tokens_where_refusal_due",
        "401_for_published_keys",
        "over_admission",
        "windows_shorter_than_the_window",
        "other_5xx",
    )
    return 1 if any(result[key] for key in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
