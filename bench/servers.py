"""Start the token servers the benchmarks compare, on loopback, and look inside them.

All run with the same auth (API key, or JWTs: HS256, RS256 with a PEM key or from a JWKS) on
the same AppID and ServerSecret, one worker per core unless told otherwise: ours (``zego-token
serve``: metrics on, in-memory rate limits set too high to trigger, production log level), the
bare Node.js cluster in ``node_server.js`` (API key only) and the fastify cluster in
``fastify/server.js`` (pino access log, @fastify/rate-limit per IP and per key, prom-client,
schema validation; its npm packages are installed here on first use). With ``redis_url`` ours
and fastify count their limits in one redis-server (``run_redis``) instead of in memory. Before
any load, each must answer a real request with a token this library decodes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt_tokens

from zego_token import decode_token04

BENCH_DIR = Path(__file__).resolve().parent
APP_ID = 1234567890
# A throwaway ServerSecret: tokens minted here are never sent to ZEGOCLOUD.
SECRET = "9f2c4e1a7b3d5f60a8c2e4b6d8f0a1c3"
USER_ID = "bench_user"
TTL = 3600
TOKEN_PATH = f"/api/token?userID={USER_ID}&expired_ts={TTL}"
START_TIMEOUT = 30.0
# Far above anything wrk can send in a window, so the limiter counts every request but never
# refuses one.
RATE_LIMIT = 1_000_000_000
FASTIFY_DIR = BENCH_DIR / "fastify"
JWT_ISSUER = jwt_tokens.ISSUER
JWT_AUDIENCE = jwt_tokens.AUDIENCE


@dataclass(frozen=True)
class JwtAuth:
    """JWT auth for both servers: ``kind`` is one of jwt_tokens.KINDS; ``jwks_url`` serves the
    public key for ``jwt-rs256-jwks``; ``sample`` is one (userID, token) of the load's list."""

    kind: str
    keys: jwt_tokens.JwtKeys
    sample: tuple[str, str]
    jwks_url: str = ""

    @property
    def algorithm(self) -> str:
        return "HS256" if self.kind == "jwt-hs256" else "RS256"


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    def pids(self) -> list[int]:
        """The main process and every process under it (the workers)."""
        return process_tree(self.process.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def free_port() -> int:
    # The port is free now; the server binds it a moment later (a benign race on loopback).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ours_config(api_key: str, jwt: JwtAuth | None = None, redis_url: str = "") -> str:
    """The TOML for our server (keys in docs/configuration.md): API-key auth with the key's
    SHA-256 (or JWTs checked for signature, issuer, audience and times, 30 s of leeway: the
    defaults), both rate limits on but out of reach (in memory, or in Redis at ``redis_url``),
    JSON logs at the production level. Metrics need no key: /metrics is always served."""
    if jwt is not None:
        source = {
            "jwt-hs256": 'secret_env = "BENCH_JWT_SECRET"',
            "jwt-rs256": f'public_key_file = "{jwt.keys.public_pem}"',
            "jwt-rs256-jwks": f'jwks_url = "{jwt.jwks_url}"',
        }[jwt.kind]
        section = f"""\
[auth]
modes = ["jwt"]

[auth.jwt]
algorithms = ["{jwt.algorithm}"]
issuer = "{JWT_ISSUER}"
audience = ["{JWT_AUDIENCE}"]
{source}
"""
    else:
        section = f"""\
[auth]
modes = ["api_key"]

[[auth.api_keys]]
name = "bench"
sha256 = "{key_hash(api_key)}"
"""
    return (
        section
        + f"""
[rate_limit]
per_identity = {RATE_LIMIT}
per_ip = {RATE_LIMIT}
window = 60
{f'redis_url = "{redis_url}"' if redis_url else ""}

[logging]
level = "info"
format = "json"
"""
    )


@contextlib.contextmanager
def run_ours(
    workers: int,
    workdir: Path,
    api_key: str,
    *,
    jwt: JwtAuth | None = None,
    executable: Path | None = None,
    name: str = "zego-token",
    redis_url: str = "",
) -> Iterator[Server]:
    """Ours with API-key auth, or with JWT auth when ``jwt`` is given; ``executable`` runs
    another installation (an earlier version, for a before/after run); ``redis_url``: the
    rate limits counted there."""
    config = workdir / f"{name}.toml"
    config.write_text(ours_config(api_key, jwt, redis_url))
    port = free_port()
    command = [
        str(executable or Path(sys.executable).parent / "zego-token"),
        "serve",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    env = {**os.environ, "ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}
    if jwt is not None and jwt.kind == "jwt-hs256":
        env["BENCH_JWT_SECRET"] = jwt.keys.secret
    log = workdir / f"{name}.log"
    with _started(name, command, env, log) as process:
        server = Server(name, process, f"http://127.0.0.1:{port}", log)
        _wait_until(server, lambda: _status(server.base_url + "/healthz") == 200)
        _check_auth(server, api_key, jwt)
        yield server


@contextlib.contextmanager
def run_node(workers: int, workdir: Path, api_key: str) -> Iterator[Server]:
    env = {"API_KEY_SHA256": key_hash(api_key)}
    with _run_node_cluster("node", BENCH_DIR / "node_server.js", workers, workdir, env) as server:
        _check_token(server, api_key)
        yield server


@contextlib.contextmanager
def run_fastify(
    workers: int,
    workdir: Path,
    api_key: str,
    *,
    jwt: JwtAuth | None = None,
    redis_url: str = "",
) -> Iterator[Server]:
    """The fastify cluster, with API-key auth or (``jwt``) JWTs via @fastify/jwt; with
    ``redis_url`` @fastify/rate-limit counts in its Redis store (ioredis)."""
    install_fastify()
    env = {"API_KEY_SHA256": key_hash(api_key), "RATE_LIMIT": str(RATE_LIMIT)}
    if redis_url:
        env["REDIS_URL"] = redis_url
    if jwt is not None:
        env.update(AUTH="jwt", JWT_ALGORITHM=jwt.algorithm)
        env.update(JWT_ISSUER=JWT_ISSUER, JWT_AUDIENCE=JWT_AUDIENCE)
        if jwt.kind == "jwt-hs256":
            env["JWT_SECRET"] = jwt.keys.secret
        elif jwt.kind == "jwt-rs256":
            env["JWT_PUBLIC_KEY_FILE"] = str(jwt.keys.public_pem)
        else:
            env["JWKS_URL"] = jwt.jwks_url
    with _run_node_cluster("fastify", FASTIFY_DIR / "server.js", workers, workdir, env) as server:
        _check_auth(server, api_key, jwt)
        yield server


def install_fastify() -> None:
    """The benchmark's own setup step: ``npm install`` the pinned packages, once (and again
    when package.json names one that is not installed)."""
    wanted = json.loads((FASTIFY_DIR / "package.json").read_text())["dependencies"]
    if all((FASTIFY_DIR / "node_modules" / name).is_dir() for name in wanted):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: apt-get install npm (scripts/bootstrap)")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=FASTIFY_DIR,
        check=True,
        timeout=300,
    )


@dataclass
class RedisServer:
    """The redis-server both contenders count their limits in."""

    url: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def script_calls(self) -> int:
        """Script calls (EVALSHA, EVAL) since the last ``reset``: one per round trip of a
        rate-limit check, for ours and for @fastify/rate-limit's Redis store alike."""
        stats = self.client().info("commandstats")
        return sum(
            int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
        )

    def reads(self) -> int:
        """Socket reads Redis made since the last ``reset``: one per batch of commands that
        arrived together (a pipeline), so fewer reads than calls means calls were batched."""
        return int(self.client().info("stats")["total_reads_processed"])

    def reset(self) -> None:
        self.client().config_resetstat()

    def keys(self, pattern: str) -> int:
        return sum(1 for _ in self.client().scan_iter(pattern))


@contextlib.contextmanager
def run_redis(workdir: Path) -> Iterator[RedisServer]:
    """A throwaway redis-server on loopback (Debian's package), nothing persisted."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    directory = workdir / "redis"
    directory.mkdir(exist_ok=True)
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    with _started("redis", command, dict(os.environ), workdir / "redis.log") as process:
        server = RedisServer(f"redis://127.0.0.1:{port}/0", process)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                server.client().ping()
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield server


@contextlib.contextmanager
def _run_node_cluster(
    name: str, script: Path, workers: int, workdir: Path, extra_env: dict[str, str]
) -> Iterator[Server]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed: apt-get install nodejs (scripts/bootstrap)")
    env = {
        **os.environ,
        "ZEGO_APP_ID": str(APP_ID),
        "ZEGO_SERVER_SECRET": SECRET,
        "HOST": "127.0.0.1",
        "PORT": "0",
        "WORKERS": str(workers),
        **extra_env,
    }
    log = workdir / f"{name}.log"
    with _started(name, [node, str(script)], env, log) as process:
        server = Server(name, process, "", log)

        def announced() -> bool:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("listening "):
                    server.base_url = line.split(" ", 1)[1].strip()
                    return True
            return False

        _wait_until(server, announced)
        yield server


@contextlib.contextmanager
def _started(
    name: str, command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's own process group (it was started in a new session), then wait."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    # Workers that outlive their main process would keep the port and the CPU busy.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_until(server: Server, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode} during start-up:\n"
                f"{server.log_tail()}"
            )
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.name} did not start in {START_TIMEOUT:.0f} s:\n{server.log_tail()}"
    )


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _check_auth(server: Server, api_key: str, jwt: JwtAuth | None) -> None:
    if jwt is None:
        _check_token(server, api_key)
    else:
        _check_token(server, jwt.sample[1], jwt.sample[0])
        # and a JWT for another user than the userID asked for is refused
        status, _ = get(server.base_url + TOKEN_PATH, jwt.sample[1])
        if status != 403:
            raise RuntimeError(f"{server.name} answered {status}, not 403, to another user's JWT")


def _check_token(server: Server, credential: str, user_id: str = USER_ID) -> None:
    """Every server must answer the benchmarked request with a token that decodes right."""
    url = f"{server.base_url}/api/token?userID={quote(user_id)}&expired_ts={TTL}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {credential}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.loads(response.read())
    claims = decode_token04(body["token"], SECRET, app_id=APP_ID, user_id=user_id)
    if claims.mode != "gcm" or body["expire"] != claims.expire:
        raise RuntimeError(f"{server.name} answered a token that is not the benchmarked one")


def get(url: str, api_key: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# --- processes --------------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, found through /proc (parent IDs in /proc/PID/stat)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name sits in parentheses and may hold spaces; the fields after it don't.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        tree.append(pid)
        queue.extend(sorted(parents.get(pid, [])))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far (all their threads)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident set size from /proc/PID/status (VmRSS), in KiB; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def command_name(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(Path(a.decode(errors="replace")).name for a in raw[:3] if a)
