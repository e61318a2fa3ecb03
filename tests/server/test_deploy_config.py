"""docs/deploy.md's production config.toml, started the way the systemd unit starts it.

The real server runs with deploy/systemd/config.toml (the text docs/deploy.md shows), the unit's
``ExecStart`` arguments (on every interface, two workers) and its environment (the ServerSecret
from a file), against a local Redis. Only what names the operator's own machines is replaced:
the API key's hash, Redis' address and the load balancer's address (here the test itself).
"""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import ROOT
from tests.fixtures.redis_server import free_port
from tests.server.conftest import API_KEY, API_KEY_SHA256, StartServer, bearer
from zego_token import decode_token04

pytestmark = pytest.mark.redis

CONFIG = ROOT / "deploy" / "systemd" / "config.toml"
UNIT = ROOT / "deploy" / "systemd" / "zego-token.service"
DOC = ROOT / "docs" / "deploy.md"
SERVER_SECRET = "9d3c5e7a1b2f4d6c8e0a2c4e6b8d0f1a"


def unit_service() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text("utf-8"))
    return unit["Service"]


def unit_environment() -> dict[str, str]:
    lines = re.findall(r"^Environment=(\w+)=(.*)$", UNIT.read_text("utf-8"), re.M)
    return dict(lines)


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"deploy/systemd/config.toml should hold {old!r} once"
    return text.replace(old, new)


def test_the_doc_shows_the_production_config_as_it_is() -> None:
    shown = re.findall(
        r'```toml title="deploy/systemd/config.toml"\n(.*?)```\n', DOC.read_text(), re.S
    )
    assert shown == [CONFIG.read_text("utf-8")]
    assert "--config /etc/zego-token/config.toml" in unit_service()["ExecStart"]


def test_the_production_config_starts_with_the_units_command_and_limits_through_redis(
    start_server: StartServer, redis_url: str, tmp_path: Path
) -> None:
    config = CONFIG.read_text("utf-8")
    config = replace_once(config, "0" * 64, API_KEY_SHA256)
    config = replace_once(config, "redis://10.0.1.5:6379/0", redis_url)
    config = replace_once(config, '["10.0.1.2"]', '["127.0.0.1"]')

    # The unit's environment, its secret file placed here.
    environment: dict[str, str | None] = dict(unit_environment())
    secret_file = tmp_path / "server-secret"
    secret_file.write_text(SERVER_SECRET + "\n")  # as `echo` would write it
    assert environment["ZEGO_SERVER_SECRET_FILE"] == "/etc/zego-token/server-secret"
    environment["ZEGO_SERVER_SECRET_FILE"] = str(secret_file)
    environment["ZEGO_SERVER_SECRET"] = None
    app_id = int(environment["ZEGO_APP_ID"] or "")

    # The unit's ExecStart: `zego-token serve` with its options; --config is the file above.
    command = shlex.split(unit_service()["ExecStart"])
    assert command[0].endswith("/bin/zego-token") and command[1] == "serve"
    args = command[2:]
    at = args.index("--config")
    del args[at : at + 2]
    assert args[args.index("--host") + 1] == "0.0.0.0"
    port = free_port()
    args[args.index("--port") + 1] = str(port)

    server = start_server(config, env=environment, args=args)
    local = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{local}/readyz", timeout=10).status_code == 200

    guide = {"userID": "alice", "expired_ts": "86400"}
    refused = httpx.get(f"{local}/api/token", params=guide, timeout=10)
    assert refused.status_code == 401, refused.text
    answer = httpx.get(f"{local}/api/token", params=guide, headers=bearer(), timeout=10)
    assert answer.status_code == 200, answer.text
    claims = decode_token04(answer.json()["token"], SERVER_SECRET, app_id=app_id, user_id="alice")
    assert claims.expire - claims.ctime == 86400

    # per_ip = 120 per window, counted in Redis: exactly 120 admitted for one client address
    # over both workers (each worker counting alone would admit up to twice as many); the
    # address comes from X-Forwarded-For because the peer is a trusted proxy.
    client = {**bearer(), "X-Forwarded-For": "203.0.113.9"}
    with httpx.Client(base_url=local, timeout=10) as http:
        statuses = [
            http.get("/api/token", params=guide, headers=client).status_code for _ in range(125)
        ]
        other = http.get(
            "/api/token", params=guide, headers={**bearer(), "X-Forwarded-For": "203.0.113.10"}
        )
    assert statuses.count(200) == 120 and statuses[-1] == 429, statuses
    assert other.status_code == 200
    keys = redis.Redis.from_url(redis_url).keys("zego-token:rl:*")
    assert keys, "no rate-limit counter in Redis"
    assert API_KEY not in server.output() and SERVER_SECRET not in server.output()
