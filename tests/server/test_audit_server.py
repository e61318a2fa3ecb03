"""The server's own tokens never repeat a nonce: several workers minting at once, audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.server.conftest import SECRET, StartServer

WORKERS = 3
TOKENS = 3000
BIN = Path(sys.executable).parent / "zego-token"


def test_tokens_from_several_workers_under_concurrency_audit_clean(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(args=["--workers", str(WORKERS)])
    deadline = time.monotonic() + 20
    while len({r["pid"] for r in server.records() if r.get("msg") == "worker started"}) < WORKERS:
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)

    def mint(batch: int) -> list[str]:
        # One connection per thread: twelve connections, which the kernel spreads over the
        # workers, each minting while the others do.
        with httpx.Client(base_url=server) as client:
            return [
                client.get("/api/token", params={"userID": f"u{batch}_{i}"}).json()["token"]
                for i in range(TOKENS // 12)
            ]

    with ThreadPoolExecutor(12) as pool:
        tokens = [t for batch in pool.map(mint, range(12)) for t in batch]
    assert len(tokens) == TOKENS
    path = tmp_path / "server-tokens.txt"
    path.write_text("\n".join(tokens) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEGO_")}
    env["ZEGO_SERVER_SECRET"] = SECRET
    done = subprocess.run(
        [str(BIN), "audit", str(path), "--json"],
        capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tokens"] == report["decoded"] == TOKENS
    assert report["nonce_reuse"] == []
    # Each thread's tokens are written together, so creation times may step back between
    # batches (an info finding); nothing else is to be found.
    assert {f["code"] for f in report["findings"]} <= {"ctime_out_of_order"}
    assert all("zego-token" in key for key in report["generators"])
    pids = {r["pid"] for r in server.records() if r.get("msg") == "worker started"}
    assert len(pids) == WORKERS
