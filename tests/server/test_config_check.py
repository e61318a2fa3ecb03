"""``zego-token config check``: the configuration checked as ``serve`` reads it, without
serving; ``--connect`` reaches the JWKS, Redis and the hook. Run as a real command."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.fixtures.idp import IdentityProvider
from tests.server.conftest import API_KEY_SHA256, APP_ID, SECRET, server_env

BIN = Path(sys.executable).parent / "zego-token"
HOOK_MODULE = """
from zego_token.server.hooks import Allow

def check(ctx):
    return Allow()
"""


def config_check(
    *args: str, env: Mapping[str, str | None] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    child = server_env(env, app=False)
    if cwd is not None:
        child["PYTHONPATH"] = f"{cwd}{os.pathsep}{child.get('PYTHONPATH', '')}"
    return subprocess.run(
        [str(BIN), "config", "check", *args],
        capture_output=True,
        text=True,
        env=child,
        timeout=60,
        cwd=cwd,
    )


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "zego-secret"
    path.write_text(SECRET + "\n")
    return path


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


def test_a_good_configuration_is_summarised_with_the_source_of_each_value(
    tmp_path: Path, secret_file: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[token]
max_ttl = 7200

[[apps]]
app_id = 987654321
secret_file = "{secret_file}"

[[auth.api_keys]]
name = "game-backend"
sha256 = "{API_KEY_SHA256}"
room_patterns = ["team-*"]
max_ttl = 3600

[rate_limit]
per_ip = 100
"""
    )
    result = config_check(
        "--config",
        str(config),
        env={
            "ZEGO_APP_ID": str(APP_ID),
            "ZEGO_SERVER_SECRET": SECRET,
            "ZEGO_TOKEN_SERVER_PORT": "9000",
        },
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "configuration OK" in out
    assert f"{APP_ID}: ServerSecret from the environment (ZEGO_SERVER_SECRET)" in out
    assert f"987654321: ServerSecret from the file {secret_file} ([[apps]] secret_file" in out
    assert "auth: modes api_key  (not set: derived from the API keys" in out
    assert "api key 'game-backend': any app; rooms team-*; max_ttl 3600" in out
    assert "  port = 9000  (environment ZEGO_TOKEN_SERVER_PORT)" in out
    assert f"  max_ttl = 7200  (file {config})" in out
    assert "  default_ttl = 3600  (default)" in out
    assert "  per_ip = 100  (file" in out
    assert "nothing contacted" in out
    assert SECRET not in out + result.stderr
    assert API_KEY_SHA256 not in out  # the key's stand-in, kept out like a secret


def test_a_broken_configuration_gives_the_line_serve_gives(
    tmp_path: Path, run_until_exit: object
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[token]\nmax_ttl = 30\n")
    env = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}
    result = config_check("--config", str(config), env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    expected = "zego-token: configuration key token.min_ttl: is 60, above token.max_ttl (30)\n"
    assert result.stderr == expected
    served = subprocess.run(
        [sys.executable, "-m", "zego_token.server", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        env=server_env(env, app=False),
        timeout=60,
    )
    assert (served.returncode, served.stderr) == (2, expected)


def test_an_unknown_variable_and_a_missing_key_file_are_refused(tmp_path: Path) -> None:
    env = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}
    typo = config_check(env={**env, "ZEGO_TOKEN_TOKEN_MAX_TLL": "60"})
    assert typo.returncode == 2
    assert "ZEGO_TOKEN_TOKEN_MAX_TLL: unknown key token.max_tll" in typo.stderr
    config = tmp_path / "config.toml"
    config.write_text(
        f'[auth.jwt]\nalgorithms = ["RS256"]\nissuer = "i"\naudience = ["a"]\n'
        f'public_key_file = "{tmp_path / "missing.pem"}"\n'
    )
    missing = config_check("--config", str(config), env=env)
    assert missing.returncode == 2
    assert "auth.jwt.public_key_file" in missing.stderr


def test_it_binds_no_port(tmp_path: Path) -> None:
    """The port the configuration names stays free: check, then bind it ourselves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        # serve would refuse this port (in use); config check does not look at it
        result = config_check(env={**env, "ZEGO_TOKEN_SERVER_PORT": str(port)})
    assert result.returncode == 0, result.stderr


def test_connect_reaches_the_jwks_redis_and_the_hook(
    tmp_path: Path, redis_url: str, idp: IdentityProvider
) -> None:
    (tmp_path / "myhooks.py").write_text(HOOK_MODULE)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[auth.jwt]
algorithms = ["RS256"]
issuer = "https://idp.example"
audience = ["zego-token"]
jwks_url = "{idp.jwks_url}"

[rate_limit]
per_identity = 10
redis_url = "{redis_url}"

[hook]
function = "myhooks:check"
"""
    )
    env = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}
    result = config_check("--config", str(config), "--connect", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"jwks: ok: {idp.jwks_url}: 1 signing key(s), kid key-1" in out
    assert f"redis: ok: {redis_url}: PONG" in out
    assert "hook: ok: myhooks:check imported" in out
    assert idp.fetches == 1

    idp.stop()
    (tmp_path / "myhooks.py").write_text("raise RuntimeError('broken hook')\n")
    failed = config_check("--config", str(config), "--connect", env=env, cwd=tmp_path)
    assert failed.returncode == 1
    assert "jwks: FAILED:" in failed.stdout
    assert "hook: FAILED: configuration key hook.function: importing 'myhooks' failed" in (
        failed.stdout
    )


def test_a_redis_password_is_never_printed() -> None:
    from zego_token.server.config_check import redact_url

    assert redact_url("redis://:hunter2@redis.internal:6379/0") == (
        "redis://:***@redis.internal:6379/0"
    )
    assert redact_url("rediss://app:hunter2@r:6380") == "rediss://app:***@r:6380"
    assert redact_url("redis://r:6379/0") == "redis://r:6379/0"


DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_cli_docs_example_runs_as_written() -> None:
    text = (DOCS / "cli.md").read_text()
    section = text.split("## `zego-token config check`", 1)[1]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    command, expected, status = block.splitlines()
    assert command.startswith("$ ") and status.startswith("# exit status ")
    words = shlex.split(command[2:])
    env = dict(word.split("=", 1) for word in words if "=" in word and word[0].isupper())
    args = [word for word in words if word not in {f"{k}={v}" for k, v in env.items()}]
    assert args[:3] == ["zego-token", "config", "check"]
    result = config_check(*args[3:], env=env)
    assert result.returncode == int(status.rsplit(" ", 1)[1])
    assert (result.stdout + result.stderr).splitlines() == [expected]


def test_the_deploy_docs_broken_example_says_what_the_command_says(tmp_path: Path) -> None:
    text = (DOCS / "deploy.md").read_text()
    block = text.split("$ zego-token config check --config broken.toml\n", 1)[1]
    expected = block.split("```", 1)[0].strip()
    (tmp_path / "broken.toml").write_text("[token]\nmax_ttl = 30\n")
    env = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}
    result = config_check("--config", "broken.toml", env=env, cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (2, expected)
