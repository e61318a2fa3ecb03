"""Configuration: environment first, then TOML, then defaults; every mistake named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.server.conftest import API_KEY_SHA256, APP_ID, SECRET, RunUntilExit
from zego_token.pipeline.schema import ConfigError
from zego_token.server.config import Overrides, Settings, load_settings

ENV = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}


def load(
    tmp_path: Path, toml: str | None = None, env: dict[str, str] | None = None, **cli: object
) -> Settings:
    overrides = Overrides(**cli)  # type: ignore[arg-type]
    if toml is not None:
        path = tmp_path / "config.toml"
        path.write_text(toml)
        overrides.config_file = str(path)
    return load_settings(
        overrides, {**ENV, **(env or {})} if env is None or "ZEGO_APP_ID" not in env else env
    )


def refused(
    tmp_path: Path, toml: str | None = None, env: dict[str, str] | None = None, **cli: object
) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, toml, env, **cli)
    return info.value


def test_defaults(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert [(a.app_id, a.secret) for a in s.apps] == [(APP_ID, SECRET)]
    assert (s.server.host, s.server.port, s.server.workers) == ("127.0.0.1", 8080, 1)
    assert (s.token.default_ttl, s.token.min_ttl, s.token.max_ttl) == (3600, 60, 86400)
    assert s.token.default_mode == "gcm"
    assert s.auth.modes == ("none",)
    assert s.cors.origins == ()
    assert (s.logging.level, s.logging.format) == ("info", "json")
    assert s.demo is False
    assert SECRET not in repr(s)  # secrets never show in a repr


def test_toml_and_env_and_cli_precedence(tmp_path: Path) -> None:
    toml = "[server]\nport = 9000\nworkers = 2\n[token]\nmax_ttl = 7200\n"
    s = load(tmp_path, toml, {"ZEGO_TOKEN_SERVER_PORT": "9100", "ZEGO_TOKEN_TOKEN_MAX_TTL": "3600"})
    assert (s.server.port, s.server.workers, s.token.max_ttl) == (9100, 2, 3600)
    s = load(tmp_path, toml, {"ZEGO_TOKEN_SERVER_PORT": "9100"}, port=9200)
    assert s.server.port == 9200


def test_env_lists_are_comma_separated(tmp_path: Path) -> None:
    s = load(tmp_path, env={"ZEGO_TOKEN_CORS_ORIGINS": "https://a.example, https://b.example:8443"})
    assert s.cors.origins == ("https://a.example", "https://b.example:8443")


def test_env_bools(tmp_path: Path) -> None:
    for text, value in [("true", True), ("1", True), ("yes", True), ("false", False), ("0", False)]:
        assert load(tmp_path, env={"ZEGO_TOKEN_DEMO_ENABLED": text}).demo is value
    error = refused(tmp_path, env={"ZEGO_TOKEN_DEMO_ENABLED": "maybe"})
    assert error.key == "demo.enabled" and "ZEGO_TOKEN_DEMO_ENABLED" in str(error)


def test_nested_sections_match_the_longest_prefix(tmp_path: Path) -> None:
    s = load(
        tmp_path, env={"ZEGO_TOKEN_RATE_LIMIT_PER_IP": "5", "ZEGO_TOKEN_RATE_LIMIT_WINDOW": "10"}
    )
    limits = s.rate_limit
    assert (limits.per_ip, limits.window) == (5, 10)
    error = refused(tmp_path, env={"ZEGO_TOKEN_AUTH_JWT_AUDIENCE": "x"})
    assert error.key.startswith("auth.jwt")  # reached [auth.jwt], not an unknown [auth] key


def test_api_keys_from_env(tmp_path: Path) -> None:
    s = load(tmp_path, env={"ZEGO_TOKEN_AUTH_API_KEYS": f"backend:{API_KEY_SHA256}"})
    assert s.auth.modes == ("api_key",)
    assert [k.name for k in s.auth.api_keys] == ["backend"]
    assert s.auth.api_keys[0].digest == bytes.fromhex(API_KEY_SHA256)


def test_api_key_scopes(tmp_path: Path) -> None:
    toml = (
        f'[[auth.api_keys]]\nname = "k"\nsha256 = "{API_KEY_SHA256.upper()}"\n'
        f'app_ids = [{APP_ID}]\nroom_patterns = ["team-*"]\npublish = false\nmax_ttl = 600\n'
    )
    grants = load(tmp_path, toml).auth.api_keys[0].grants
    assert grants.app_ids == (APP_ID,)
    assert grants.room_patterns == ("team-*",)
    assert (grants.publish, grants.max_ttl) == (False, 600)


def test_several_apps_and_secret_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("abcdefabcdefabcdefabcdefabcdef12\n")
    toml = (
        f'[[apps]]\napp_id = 42\nsecret_file = "{secret_file}"\n'
        f'[[apps]]\napp_id = {APP_ID}\nsecret = "{"0" * 32}"\n'
    )
    s = load(tmp_path, toml)
    # The environment's app comes first (the default) and wins over the file's same AppID.
    assert [(a.app_id, a.secret) for a in s.apps] == [
        (APP_ID, SECRET),
        (42, "abcdefabcdefabcdefabcdefabcdef12"),
    ]
    s = load_settings(Overrides(config_file=str(tmp_path / "config.toml")), {"ZEGO_APP_ID": ""})
    assert [a.app_id for a in s.apps] == [42, APP_ID]


def test_secret_from_env_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    s = load_settings(
        Overrides(), {"ZEGO_APP_ID": "7", "ZEGO_SERVER_SECRET_FILE": str(secret_file)}
    )
    assert s.apps[0].secret == SECRET


@pytest.mark.parametrize(
    ("toml", "env", "key", "words"),
    [
        ("[server]\nprot = 1\n", {}, "server.prot", "unknown key"),
        ("[sever]\nport = 1\n", {}, "sever", "unknown section"),
        ("[server]\nport = 70000\n", {}, "server.port", "0..65535"),
        ('[server]\nport = "80"\n', {}, "server.port", "whole number"),
        ("[server]\nworkers = 0\n", {}, "server.workers", "1..256"),
        (
            '[server]\ntrusted_proxies = ["10.0.0.0/8", "proxy"]\n',
            {},
            "server.trusted_proxies",
            "'proxy'",
        ),
        ("[token]\nmax_ttl = 100\nmin_ttl = 200\n", {}, "token.min_ttl", "above"),
        ("[token]\ndefault_ttl = 90000\n", {}, "token.default_ttl", "outside"),
        ('[token]\ndefault_mode = "ecb"\n', {}, "token.default_mode", "gcm, cbc"),
        ('[cors]\norigins = ["https://a.example/"]\n', {}, "cors.origins", "no path"),
        (
            '[cors]\norigins = ["*"]\nallow_credentials = true\n',
            {},
            "cors.allow_credentials",
            "'*'",
        ),
        ('[auth]\nmodes = ["password"]\n', {}, "auth.modes", "unknown mode"),
        ('[auth]\nmodes = ["api_key"]\n', {}, "auth.api_keys", "no [[auth.api_keys]]"),
        ('[auth]\nmodes = ["jwt"]\n', {}, "auth.jwt", "not configured"),
        (
            '[[auth.api_keys]]\nname = "k"\nsha256 = "secret-key"\n',
            {},
            "auth.api_keys[0].sha256",
            "SHA-256",
        ),
        ('[[auth.api_keys]]\nname = "k"\n', {}, "auth.api_keys[0].sha256", "SHA-256"),
        (
            f'[[auth.api_keys]]\nname = "k"\nsha256 = "{API_KEY_SHA256}"\nscope = 1\n',
            {},
            "auth.api_keys[0].scope",
            "unknown key",
        ),
        (
            f'[[auth.api_keys]]\nname = "k"\nsha256 = "{API_KEY_SHA256}"\napp_ids = [5]\n',
            {},
            "auth.api_keys[0].app_ids",
            "not a configured app",
        ),
        ('[logging]\nlevel = "loud"\n', {}, "logging.level", "debug, info"),
        ("[[apps]]\napp_id = 0\nsecret = 'x'\n", {}, "apps[0].app_id", "AppID"),
        ("[[apps]]\napp_id = 5\n", {}, "apps[0].secret", "secret or secret_file"),
        ("[[apps]]\napp_id = 5\nsecret = 'short'\n", {}, "apps[0].secret", "32 ASCII"),
        (
            "[[apps]]\napp_id = 5\nsecret_file = '/nonexistent/secret'\n",
            {},
            "apps[0].secret_file",
            "cannot read",
        ),
        ("[policy]\nroom_patern = ['a']\n", {}, "policy.room_patern", "unknown key"),
        ("server = 1\n", {}, "server", "table"),
        ("[server\n", {}, "--config", "not valid TOML"),
        (
            None,
            {"ZEGO_TOKEN_SERVER_PROT": "1"},
            "ZEGO_TOKEN_SERVER_PROT",
            "unknown key server.prot",
        ),
        (
            None,
            {"ZEGO_TOKEN_SERVR_PORT": "1"},
            "ZEGO_TOKEN_SERVR_PORT",
            "unknown environment variable",
        ),
        (None, {"ZEGO_TOKEN_SERVER_PORT": "http"}, "server.port", "ZEGO_TOKEN_SERVER_PORT"),
        (None, {"ZEGO_TOKEN_SERVER_PORT": "9" * 5000}, "server.port", "whole number"),
        (None, {"ZEGO_TOKEN_TOKEN_MAX_TTL": "-1"}, "token.max_ttl", "1.."),
        (None, {"ZEGO_TOKEN_AUTH_API_KEYS": "no-colon"}, "auth.api_keys[0]", "name:sha256hex"),
        (None, {"ZEGO_TOKEN_SERVER_HOST": "0.0.0.0"}, "server.host", "allow_unauthenticated"),
    ],
)
def test_invalid_configuration_names_the_key(
    tmp_path: Path, toml: str | None, env: dict[str, str], key: str, words: str
) -> None:
    error = refused(tmp_path, toml, env)
    assert error.key == key
    assert words in str(error)
    assert SECRET not in str(error)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({}, "apps"),
        ({"ZEGO_APP_ID": "12x"}, "ZEGO_APP_ID"),
        ({"ZEGO_APP_ID": "5"}, "ZEGO_SERVER_SECRET"),
        ({"ZEGO_SERVER_SECRET": SECRET}, "ZEGO_APP_ID"),
        ({"ZEGO_APP_ID": "5", "ZEGO_SERVER_SECRET": "too-short"}, "ZEGO_SERVER_SECRET"),
        (
            {"ZEGO_APP_ID": "5", "ZEGO_SERVER_SECRET": SECRET, "ZEGO_SERVER_SECRET_FILE": "/x"},
            "ZEGO_SERVER_SECRET and ZEGO_SERVER_SECRET_FILE",
        ),
        (
            {"ZEGO_APP_ID": "5", "ZEGO_SERVER_SECRET_FILE": "/nonexistent"},
            "ZEGO_SERVER_SECRET_FILE",
        ),
        ({"ZEGO_APP_ID": "5", "ZEGO_SERVER_SECRET_FILE": "/tmp/\x00"}, "ZEGO_SERVER_SECRET_FILE"),
    ],
)
def test_app_environment_errors(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(Overrides(), env)
    assert info.value.key == key


def test_secret_is_never_echoed(tmp_path: Path) -> None:
    almost = "s3cr3t-" * 5  # 35 characters: wrong length
    with pytest.raises(ConfigError) as info:
        load_settings(Overrides(), {"ZEGO_APP_ID": "5", "ZEGO_SERVER_SECRET": almost})
    assert almost not in str(info.value)
    assert "35 characters" in str(info.value)


def test_loopback_rule_for_auth_none(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        assert load(tmp_path, env={"ZEGO_TOKEN_SERVER_HOST": host}).server.host == host
    for host in ("0.0.0.0", "::", "192.0.2.10", "example.com"):
        assert refused(tmp_path, env={"ZEGO_TOKEN_SERVER_HOST": host}).key == "server.host"
    s = load(tmp_path, "[server]\nhost = '0.0.0.0'\nallow_unauthenticated = true\n")
    assert s.server.host == "0.0.0.0"
    keyed = (
        f'[server]\nhost = "0.0.0.0"\n[[auth.api_keys]]\nname = "k"\nsha256 = "{API_KEY_SHA256}"\n'
    )
    assert load(tmp_path, keyed).auth.modes == ("api_key",)
    with_none = keyed.replace("[[auth", '[auth]\nmodes = ["api_key", "none"]\n[[auth', 1)
    assert refused(tmp_path, with_none).key == "server.host"


env_names = st.sampled_from(
    [
        "ZEGO_APP_ID",
        "ZEGO_SERVER_SECRET",
        "ZEGO_SERVER_SECRET_FILE",
        "ZEGO_TOKEN_SERVER_PORT",
        "ZEGO_TOKEN_SERVER_HOST",
        "ZEGO_TOKEN_SERVER_TRUSTED_PROXIES",
        "ZEGO_TOKEN_TOKEN_MAX_TTL",
        "ZEGO_TOKEN_CORS_ORIGINS",
        "ZEGO_TOKEN_CORS_MAX_AGE",
        "ZEGO_TOKEN_AUTH_MODES",
        "ZEGO_TOKEN_AUTH_API_KEYS",
        "ZEGO_TOKEN_AUTH_JWT_AUDIENCE",
        "ZEGO_TOKEN_RATE_LIMIT_WINDOW",
        "ZEGO_TOKEN_POLICY_ROOM_PATTERNS",
        "ZEGO_TOKEN_HOOK_FUNCTION",
        "ZEGO_TOKEN_LOGGING_LEVEL",
        "ZEGO_TOKEN_X",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(env_names, st.text(max_size=40), max_size=6))
def test_any_environment_is_accepted_or_named(env: dict[str, str]) -> None:
    try:
        load_settings(Overrides(), {**ENV, **env})
    except ConfigError as error:
        assert error.key


# -- the real process: exit code 2 and one line ------------------------------------------------


@pytest.mark.parametrize(
    ("config", "env", "args", "key"),
    [
        ("[server]\nprot = 8080\n", {}, (), "server.prot"),
        (None, {"ZEGO_TOKEN_SERVER_PORT": "eighty"}, (), "server.port"),
        (None, {"ZEGO_APP_ID": None, "ZEGO_SERVER_SECRET": None}, (), "apps"),
        (None, {}, ("--host", "0.0.0.0"), "server.host"),
        (None, {}, ("--config", "/nonexistent.toml"), "--config"),
        ('[hook]\nfunction = "no_such_module_xyz:check"\n', {}, (), "hook.function"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(
    run_until_exit: RunUntilExit,
    config: str | None,
    env: dict[str, str | None],
    args: tuple[str, ...],
    key: str,
) -> None:
    code, stdout, stderr = run_until_exit(config, env, args)
    assert code == 2, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"zego-token: configuration key {key}:")
    assert "Traceback" not in stdout + stderr
    assert SECRET not in stdout + stderr


# -- one schema: every section refuses the same mistakes with the same words ------------------


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[cors]\norigins = "https://a.example"\n', "cors.origins"),
        ('[policy]\nroom_patterns = "team-*"\n', "policy.room_patterns"),
        ('[server]\ntrusted_proxies = "10.0.0.0/8"\n', "server.trusted_proxies"),
        ('[rate_limit]\ntrusted_proxies = "10.0.0.0/8"\n', "rate_limit.trusted_proxies"),
        ('[auth]\nmodes = "api_key"\n', "auth.modes"),
    ],
)
def test_a_string_where_a_list_belongs_is_refused_in_every_section(
    tmp_path: Path, toml: str, key: str
) -> None:
    error = refused(tmp_path, toml)
    assert error.key == key
    assert "must be a list of strings, got '" in error.message


@pytest.mark.parametrize(
    ("toml", "key", "bounds"),
    [
        ('[server]\nport = "80"\n', "server.port", "0..65535"),
        ('[rate_limit]\nwindow = "80"\n', "rate_limit.window", "1..86400"),
        ('[token]\nmax_ttl = "80"\n', "token.max_ttl", "1..2147483647"),
        ('[policy]\nmax_ttl = "80"\n', "policy.max_ttl", "0..2147483647"),
    ],
)
def test_a_number_written_as_a_string_gets_one_wording_everywhere(
    tmp_path: Path, toml: str, key: str, bounds: str
) -> None:
    error = refused(tmp_path, toml)
    assert error.key == key
    assert "must be " in error.message and bounds in error.message
    assert error.message.endswith(", got '80'")


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("ZEGO_TOKEN_SERVER_WORKERS", "0", "server.workers"),
        ("ZEGO_TOKEN_RATE_LIMIT_WINDOW", "0", "rate_limit.window"),
        ("ZEGO_TOKEN_RATE_LIMIT_PER_IP", "-1", "rate_limit.per_ip"),
        ("ZEGO_TOKEN_HOOK_TIMEOUT", "0", "hook.timeout"),
        ("ZEGO_TOKEN_POLICY_MIN_TTL", "-5", "policy.min_ttl"),
        ("ZEGO_TOKEN_TOKEN_MIN_TTL", "90000", "token.min_ttl"),
        ("ZEGO_TOKEN_SERVER_TRUSTED_PROXIES", "10.0.0.0/8,proxy", "server.trusted_proxies"),
        ("ZEGO_TOKEN_RATE_LIMIT_TRUSTED_PROXIES", "proxy", "rate_limit.trusted_proxies"),
        ("ZEGO_TOKEN_CORS_ORIGINS", "https://a.example/path", "cors.origins"),
        ("ZEGO_TOKEN_LOGGING_LEVEL", "loud", "logging.level"),
        ("ZEGO_TOKEN_AUTH_MODES", "jwt", "auth.jwt"),
    ],
)
def test_every_environment_error_names_its_variable(
    tmp_path: Path, variable: str, value: str, key: str
) -> None:
    env = {variable: value}
    if variable == "ZEGO_TOKEN_HOOK_TIMEOUT":
        env["ZEGO_TOKEN_HOOK_FUNCTION"] = "myapp.rules:check"
    error = refused(tmp_path, env=env)
    assert error.key == key
    assert f"(set by {variable})" in error.message


def test_min_above_max_is_worded_alike_in_token_and_policy(tmp_path: Path) -> None:
    token = refused(tmp_path, "[token]\nmin_ttl = 200\nmax_ttl = 100\ndefault_ttl = 150\n")
    policy = refused(tmp_path, "[policy]\nmin_ttl = 200\nmax_ttl = 100\n")
    assert token.message == "is 200, above token.max_ttl (100)"
    assert policy.message == "is 200, above policy.max_ttl (100)"


def test_trusted_proxies_are_checked_by_one_parser_in_both_sections(tmp_path: Path) -> None:
    server = refused(tmp_path, '[server]\ntrusted_proxies = ["proxy"]\n')
    limits = refused(tmp_path, '[rate_limit]\ntrusted_proxies = ["proxy"]\n')
    assert server.message == limits.message
