"""The installed ``zego-token`` console script, run as a user runs it: a subprocess.

Every run goes through ``zego()``, which also checks what must hold for every command: no
traceback, every stderr line is the tool's own one-line message, and no ServerSecret is printed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import zego_token
from tests.conftest import SECRET, load_vectors
from tests.test_diagnose import CTIME, OTHER_SECRET, claims, seal, token
from zego_token import (
    decode_token04,
    kit_token_for_production,
    parse_kit_token,
    privilege_payload,
    read_header,
)

BIN = Path(sys.executable).parent / "zego-token"
VECTORS = load_vectors("token04-official.json") + load_vectors("token04-official-decode-only.json")
ALL_SECRETS = {SECRET, OTHER_SECRET} | {v["secret"] for v in VECTORS}
ENV = "ZEGO_SERVER_SECRET"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def zego(
    *args: str, secret: str | None = None, stdin: str | bytes | None = None, **env: str
) -> Run:
    """Run the installed script; ``secret`` goes in ZEGO_SERVER_SECRET, never in argv."""
    environ = {k: v for k, v in os.environ.items() if k != ENV}
    environ.update(env)
    if secret is not None:
        environ[ENV] = secret
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run(
        [str(BIN), *args], input=data, capture_output=True, env=environ, timeout=60, check=False
    )
    out = done.stdout.decode("utf-8")
    err = done.stderr.decode("utf-8")
    assert "Traceback" not in err, err
    for line in err.splitlines():
        assert line.startswith("zego-token"), f"stray stderr line: {line!r}"
    for value in ALL_SECRETS:
        assert value not in out and value not in err, "a ServerSecret was printed"
    return Run(done.returncode, out, err)


def assert_usage_error(run: Run, *fragments: str) -> None:
    """Exit 2, nothing on stdout, exactly one error line on stderr saying what is wrong."""
    assert run.code == 2, run
    assert run.out == ""
    errors = [line for line in run.err_lines if ": error: " in line]
    assert len(errors) == 1, run.err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_script_is_the_installed_one() -> None:
    assert BIN.is_file(), f"console script missing: {BIN} (pip install -e .)"


def test_version() -> None:
    run = zego("--version")
    assert run.code == 0 and run.out.strip() == f"zego-token {zego_token.__version__}"


@pytest.mark.parametrize("command", [[], ["generate"], ["inspect"], ["kit"]])
def test_help_on_every_command(command: list[str]) -> None:
    run = zego(*command, "--help")
    assert run.code == 0 and run.out.startswith("usage: zego-token")
    if not command:
        for name in ("generate", "inspect", "kit", "serve"):
            assert f"    {name} " in run.out
    assert "ZEGO_SERVER_SECRET" in run.out


def test_no_command_is_a_usage_error() -> None:
    assert_usage_error(zego(), "choose a command")


# -- generate ----------------------------------------------------------------------------------


def test_generate_prints_only_the_token() -> None:
    run = zego("generate", "--app-id", "1234567890", "--user-id", "host_42", secret=SECRET)
    assert run.code == 0 and run.err == ""
    assert run.out.endswith("\n") and run.out.count("\n") == 1
    decoded = decode_token04(run.out.strip(), SECRET, app_id=1234567890, user_id="host_42")
    assert decoded.mode == "gcm" and decoded.payload == ""
    assert decoded.expire - decoded.ctime == 3600


def test_generate_json_parses_back() -> None:
    run = zego(
        "generate",
        "--app-id",
        "7",
        "--user-id",
        "u1",
        "--ttl",
        "600",
        "--now",
        str(CTIME),
        "--json",
        secret=SECRET,
    )
    assert run.code == 0
    out = run.json()
    assert set(out) == {"token", "expire", "app_id", "user_id", "mode"}
    assert (out["expire"], out["app_id"], out["user_id"], out["mode"]) == (
        CTIME + 600,
        7,
        "u1",
        "gcm",
    )
    decoded = decode_token04(out["token"], SECRET, now=CTIME)
    assert (decoded.ctime, decoded.expire) == (CTIME, CTIME + 600)


def test_generate_strict_token_with_room_privileges() -> None:
    run = zego(
        "generate",
        "--app-id",
        "7",
        "--user-id",
        "u1",
        "--room",
        "room1",
        "--publish",
        "--stream",
        "s1",
        "--stream",
        "s2",
        secret=SECRET,
    )
    privileges = decode_token04(run.out.strip(), SECRET).privileges
    assert privileges is not None
    assert (privileges.room_id, privileges.login, privileges.publish) == ("room1", True, True)
    assert privileges.stream_ids == ("s1", "s2")
    no_login = zego(
        "generate", "--app-id", "7", "--user-id", "u1", "--room", "r", "--no-login", secret=SECRET
    )
    p = decode_token04(no_login.out.strip(), SECRET).privileges
    assert p is not None and (p.login, p.publish, p.stream_ids) == (False, False, None)


def test_generate_raw_payload() -> None:
    run = zego("generate", "--app-id", "7", "--user-id", "u1", "--payload", "x y", secret=SECRET)
    assert decode_token04(run.out.strip(), SECRET).payload == "x y"


def test_generate_cbc_warns_that_it_is_deprecated() -> None:
    run = zego("generate", "--app-id", "7", "--user-id", "u1", "--mode", "cbc", secret=SECRET)
    assert run.code == 0 and read_header(run.out.strip()).mode == "cbc"
    assert decode_token04(run.out.strip(), SECRET).mode == "cbc"
    assert run.err_lines == [
        "zego-token generate: warning: CBC tokens are deprecated by ZEGO and carry no integrity "
        "check; use --mode gcm unless an old client needs CBC"
    ]


def test_generate_kit_token() -> None:
    run = zego(
        "generate",
        "--app-id",
        "7",
        "--user-id",
        "u1",
        "--room",
        "room1",
        "--kit",
        "--user-name",
        "Zoë Ñ",
        "--json",
        secret=SECRET,
    )
    out = run.json()
    assert set(out) == {"token", "expire", "app_id", "user_id", "mode", "kit_token"}
    kit = parse_kit_token(out["kit_token"])
    assert (kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (7, "u1", "room1", "Zoë Ñ")
    assert kit.token == out["token"]
    plain = zego(
        "generate",
        "--app-id",
        "7",
        "--user-id",
        "u1",
        "--room",
        "r",
        "--kit",
        "--user-name",
        "N",
        secret=SECRET,
    )
    assert parse_kit_token(plain.out.strip()).room_id == "r"


def test_generate_warns_about_user_ids_zego_refuses() -> None:
    run = zego("generate", "--app-id", "7", "--user-id", "José", secret=SECRET)
    assert run.code == 0 and run.out.startswith("04")
    assert len(run.err_lines) == 1 and "breaks ZEGO's ID rules" in run.err


# -- where the secret comes from ---------------------------------------------------------------


def test_secret_from_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    run = zego("generate", "--app-id", "7", "--user-id", "u1", "--secret-file", str(path))
    assert run.code == 0 and decode_token04(run.out.strip(), SECRET).user_id == "u1"


def test_secret_from_stdin() -> None:
    run = zego("generate", "--app-id", "7", "--user-id", "u1", "--secret-stdin", stdin=SECRET)
    assert run.code == 0 and decode_token04(run.out.strip(), SECRET).user_id == "u1"


def test_secret_flag_wins_over_environment() -> None:
    run = zego(
        "generate",
        "--app-id",
        "7",
        "--user-id",
        "u1",
        "--secret-stdin",
        stdin=OTHER_SECRET,
        secret=SECRET,
    )
    assert decode_token04(run.out.strip(), OTHER_SECRET).user_id == "u1"


def test_secret_argument_works_but_warns_without_echoing_it() -> None:
    run = zego("generate", "--app-id", "7", "--user-id", "u1", "--secret", SECRET)
    assert run.code == 0 and decode_token04(run.out.strip(), SECRET).user_id == "u1"
    assert len(run.err_lines) == 1
    assert "warning: --secret puts the ServerSecret in your shell history" in run.err


# -- kit ---------------------------------------------------------------------------------------


def test_kit_command() -> None:
    run = zego(
        "kit",
        "--app-id",
        "7",
        "--room",
        "room1",
        "--user-id",
        "u1",
        "--user-name",
        "Ann",
        "--ttl",
        "120",
        secret=SECRET,
    )
    assert run.code == 0 and run.out.count("\n") == 1
    kit = parse_kit_token(run.out.strip())
    assert (kit.app_id, kit.user_id, kit.room_id, kit.user_name) == (7, "u1", "room1", "Ann")
    decoded = decode_token04(kit.token, SECRET, app_id=7, user_id="u1")
    assert decoded.payload == "" and decoded.expire - decoded.ctime == 120


def test_kit_command_json() -> None:
    run = zego(
        "kit",
        "--app-id",
        "7",
        "--room",
        "room1",
        "--user-id",
        "u1",
        "--user-name",
        "Ann",
        "--json",
        "--now",
        str(CTIME),
        secret=SECRET,
    )
    out = run.json()
    assert out["kit_token"].startswith(out["token"] + "#")
    assert (out["expire"], out["room_id"], out["user_name"]) == (CTIME + 3600, "room1", "Ann")


# -- inspect -----------------------------------------------------------------------------------


def test_inspect_valid_token_shows_claims_times_and_verdict() -> None:
    t = token(payload=privilege_payload("room1", publish=True))
    run = zego("inspect", t, "--now", str(CTIME + 1), secret=SECRET)
    assert run.code == 0 and run.err == ""
    lines = run.out.splitlines()
    assert lines[0] == "token      Token04 GCM, 12-byte nonce, 206-byte ciphertext"
    assert "app ID     1234567890" in lines
    assert "user ID    host_42" in lines
    assert "created    2025-11-30T00:00:00Z (1 s ago)" in lines
    assert "expires    2025-11-30T01:00:00Z (expires in 59 min)" in lines
    assert "privileges room room1: login yes, publish yes, streams any" in lines
    assert (
        lines[-1]
        == "verdict    valid: opens with this ServerSecret and holds until 2025-11-30T01:00:00Z"
    )


def test_inspect_without_secret_shows_what_anyone_can_read() -> None:
    run = zego("inspect", token(mode="cbc"), "--now", str(CTIME))
    assert run.code == 0
    assert "Token04 CBC, 16-byte IV" in run.out
    assert "(expires in 1 h; from the header, not authenticated)" in run.out
    assert "verdict    unverified" in run.out
    assert "[cbc_token]" in run.out and "[not_verified]" in run.out
    assert "user ID" not in run.out  # encrypted: not readable without the secret


def test_empty_secret_variable_counts_as_unset() -> None:
    run = zego("inspect", token(), "--now", str(CTIME), secret="")
    assert run.code == 0 and "verdict    unverified" in run.out
    assert_usage_error(zego(*GEN, secret=""), "no ServerSecret")


def test_inspect_json_parses_back() -> None:
    run = zego("inspect", token(), "--now", str(CTIME), "--json", secret=SECRET)
    out = run.json()
    assert out["verdict"] == "valid" and out["claims"]["user_id"] == "host_42"
    assert out["claims"]["expire_iso"] == "2025-11-30T01:00:00Z"


def test_inspect_reads_the_token_from_stdin() -> None:
    run = zego("inspect", "-", "--now", str(CTIME), secret=SECRET, stdin=token() + "\n")
    assert run.code == 0 and "verdict    valid" in run.out


ONE_PER_GENERATOR = list({v["source"]: v for v in VECTORS}.values())


@pytest.mark.parametrize("vector", ONE_PER_GENERATOR, ids=lambda v: v["source"])
def test_inspect_official_tokens(vector: dict[str, Any]) -> None:
    run = zego(
        "inspect",
        vector["token"],
        "--now",
        str(vector["ctime"]),
        "--json",
        "--app-id",
        str(vector["app_id"]),
        "--user-id",
        vector["user_id"],
        secret=vector["secret"],
    )
    assert run.code == 0
    out = run.json()
    assert out["verdict"] == "valid"
    assert out["claims"]["nonce"] == vector["nonce"] and out["header"]["mode"] == vector["mode"]


def test_inspect_uikit_kit_token_without_payload() -> None:
    uikit = seal(claims(payload=None), mode="cbc")  # what generateKitTokenForTest makes
    kit = kit_token_for_production(1234567890, uikit, "room1", "host_42", "Zoë")
    run = zego("inspect", kit, "--now", str(CTIME), "--user-id", "host_42", secret=SECRET)
    assert run.code == 0
    assert "kit token  AppID 1234567890, user ID host_42, room ID room1, user name Zoë" in run.out
    assert "payload    (empty: no room privileges)" in run.out


def _kit(
    inner: str, *, app_id: int = 1234567890, room_id: str = "room1", user_id: str = "host_42"
) -> str:
    return kit_token_for_production(app_id, inner, room_id, user_id, "H")


def _retimed(t: str, expire: int) -> str:
    body = bytearray(base64.b64decode(t[2:]))
    body[:8] = expire.to_bytes(8, "big")
    return "04" + base64.b64encode(bytes(body)).decode()


STRICT = token(payload=privilege_payload("room1"))


def diag(
    case: str,
    text: str,
    code: str,
    words: str,
    *extra: str,
    secret: str | None = SECRET,
    status: int = 1,
) -> Any:
    """A token, the finding ``inspect`` must report, words in its message and the exit status."""
    return pytest.param(text, list(extra), secret, code, status, words, id=case)


LATER = str(CTIME + 3600 + 3 * 3600)
DIAGNOSES = [
    diag("wrong-secret", token(), "wrong_secret", "does not decrypt", secret=OTHER_SECRET),
    diag("truncated", token()[:-12], "tampered_or_truncated", "truncated"),
    diag("tampered", _retimed(token(), CTIME + 10**7), "tampered_or_truncated", "altered"),
    diag("expired", token(), "expired", "expired 3 h ago", "--now", LATER),
    diag("app-id", token(), "app_id_mismatch", "AppID 42", "--app-id", "42"),
    diag("user-id", token(), "user_id_mismatch", "'bob'", "--user-id", "bob"),
    diag("cbc", token(mode="cbc"), "cbc_token", "deprecated", status=0),
    diag("payload", token(payload="hello"), "free_payload", "free text", status=0),
    diag(
        "demo-payload",
        token(payload='{"demoPayload": ""}'),
        "free_payload",
        "basic token",
        status=0,
    ),
    diag(
        "room-payload-without-privilege",
        token(payload='{"room_id": "r1"}'),
        "payload_privileges_malformed",
        '"privilege"',
        status=0,
    ),
    diag("user-id-65", seal(claims(user_id="x" * 65)), "user_id_breaks_rules", "65 bytes"),
    diag("user-id-chars", token(user_id="José"), "user_id_breaks_rules", "character rules"),
    diag("room-id", token(payload=privilege_payload("a b")), "room_id_breaks_rules", "'a b'"),
    diag("kit-app-id", _kit(STRICT, app_id=42), "kit_app_id_differs", "AppID 42"),
    diag("kit-user-id", _kit(STRICT, user_id="eve"), "kit_user_id_differs", "'eve'"),
    diag("kit-room-id", _kit(STRICT, room_id="room2"), "kit_room_id_differs", "'room2'"),
    diag("kit-malformed", token() + "#%%%", "malformed_kit_token", "not base64"),
    diag(
        "login",
        token(payload=privilege_payload("r", login=False)),
        "login_not_granted",
        "logging in",
        status=0,
    ),
    diag("clock", token(), "created_in_future", "2 h ahead", "--now", str(CTIME - 7200), status=0),
    diag("empty", "", "empty_token", "empty"),
    diag("jwt", "eyJhbGciOiJIUzI1NiJ9.e30.sig", "not_token04", "JWT"),
    diag("not-base64", "04!!!notbase64", "tampered_or_truncated", "base64"),
    diag("url-encoded", token().replace("+", "%2B"), "url_encoded", "URL-encoded"),
    diag("plus-space", token().replace("+", " "), "plus_became_space", "spaces"),
    diag("expired-unverified", token(), "expired", "header", "--now", LATER, secret=None),
]


@pytest.mark.parametrize(("text", "extra", "secret", "code", "status", "words"), DIAGNOSES)
def test_inspect_diagnoses(
    text: str, extra: list[str], secret: str | None, code: str, status: int, words: str
) -> None:
    now = [] if "--now" in extra else ["--now", str(CTIME)]
    run = zego("inspect", text, *now, *extra, secret=secret)
    assert run.code == status
    finding = next(line for line in run.out.splitlines() if f"[{code}]" in line)
    assert words in finding
    if status == 1:
        assert "verdict    invalid" in run.out
        # The first cause also goes to stderr, as one line, for scripts that only see stderr.
        assert len(run.err_lines) == 1
        assert run.err.startswith("zego-token inspect: error: invalid token: ")
        assert "; fix: " in run.err
    else:
        assert run.err == "" and "verdict    valid" in run.out
    as_json = zego("inspect", text, *now, *extra, "--json", secret=secret)
    assert as_json.code == status
    found = {f["code"]: f for f in as_json.json()["findings"]}
    assert words in found[code]["message"] and found[code]["fix"]
    assert as_json.json()["valid"] is (status == 0)


def test_inspect_never_prints_the_token_it_was_given() -> None:
    t = token(payload=privilege_payload("room1"))
    for extra in ([], ["--json"]):
        run = zego("inspect", t, "--now", str(CTIME), *extra, secret=SECRET)
        assert t[2:30] not in run.out + run.err


def test_inspect_escapes_control_characters_from_a_hostile_kit_token() -> None:
    info = {"userID": "u", "roomID": "r", "userName": "%1B%5B2J%1B%5D0%3Bpwned%07", "appID": 1}
    kit = token() + "#" + base64.b64encode(json.dumps(info).encode()).decode()
    run = zego("inspect", kit, "--now", str(CTIME))
    assert "\x1b" not in run.out and "\x07" not in run.out
    assert "user name \\x1b[2J\\x1b]0;pwned\\x07" in run.out


def test_inspect_survives_lone_surrogates_and_huge_times() -> None:
    odd = seal(
        b'{"app_id":1,"user_id":"\\ud800x","nonce":1,"ctime":0,"expire":9223372036854775807}',
        expire=2**63 - 1,
    )
    assert read_header(odd).expire == 2**63 - 1
    run = zego("inspect", odd, "--now", str(CTIME), secret=SECRET)
    assert run.code == 1 and "(out of calendar range)" in run.out
    assert "user ID    \\ud800x" in run.out
    as_json = zego("inspect", odd, "--now", str(CTIME), "--json", secret=SECRET)
    assert as_json.json()["claims"]["user_id"] == "\ud800x"


# -- usage errors: exit 2, one line ------------------------------------------------------------

GEN = ["generate", "--app-id", "7", "--user-id", "u1"]
KIT = ["kit", "--app-id", "7", "--room", "r", "--user-name", "n"]
WITH_SECRET = {ENV: SECRET}


def usage(
    case: str,
    args: list[str],
    *fragments: str,
    env: dict[str, str] = WITH_SECRET,
    stdin: str | None = None,
) -> Any:
    """Arguments that must fail with exit 2 and one stderr line holding ``fragments``."""
    return pytest.param(args, env, stdin, fragments, id=case)


USAGE_ERRORS = [
    usage("no-secret", GEN, "no ServerSecret", "ZEGO_SERVER_SECRET", env={}),
    usage("app-id-text", ["generate", "--app-id", "abc", "--user-id", "u"], "whole number"),
    usage("app-id-zero", ["generate", "--app-id", "0", "--user-id", "u"], "1..4294967295"),
    usage("app-id-big", ["generate", "--app-id", "4294967296", "--user-id", "u"], "--app-id"),
    usage("ttl-zero", [*GEN, "--ttl", "0"], "--ttl", "positive"),
    usage("ttl-text", [*GEN, "--ttl", "1h"], "--ttl", "'1h'"),
    usage("user-id-65", ["generate", "--app-id", "7", "--user-id", "u" * 65], "65 bytes"),
    usage("user-id-empty", ["generate", "--app-id", "7", "--user-id", ""], "non-empty"),
    usage("room-129", [*GEN, "--room", "r" * 129], "--room", "129 bytes"),
    usage("stream-257", [*GEN, "--room", "r", "--stream", "s" * 257], "--stream", "257 bytes"),
    usage("secret-short", GEN, "ZEGO_SERVER_SECRET", "32 ASCII", "got 31", env={ENV: SECRET[:31]}),
    usage("secret-non-ascii", GEN, "non-ASCII", env={ENV: SECRET[:31] + "é"}),
    usage("secret-stdin-long", [*GEN, "--secret-stdin"], "got 64", env={}, stdin=SECRET * 2),
    usage("secret-file-missing", [*GEN, "--secret-file", "/nonexistent/s"], "cannot read", env={}),
    usage("two-secrets", [*GEN, "--secret-stdin", "--secret-file", "x"], "not allowed with"),
    usage("publish-no-room", [*GEN, "--publish"], "need --room"),
    usage("kit-no-room", [*GEN, "--kit", "--user-name", "n"], "--kit needs --room"),
    usage("kit-no-name", [*GEN, "--kit", "--room", "r"], "--user-name"),
    usage("name-no-kit", [*GEN, "--user-name", "n"], "add --kit"),
    usage("payload-and-room", [*GEN, "--room", "r", "--payload", "p"], "--payload and --room"),
    usage("mode", [*GEN, "--mode", "ecb"], "--mode", "invalid choice"),
    usage("kit-non-ascii", [*KIT, "--user-id", "Zoë"], "--user-id", "ASCII"),
    usage("kit-no-user", KIT, "--user-id"),
    usage("inspect-no-token", ["inspect"], "TOKEN"),
    usage("inspect-bad-now", ["inspect", "04", "--now", "-5"], "--now", "Unix time"),
    usage("inspect-bad-app-id", ["inspect", "04", "--app-id", "x"], "--app-id"),
    usage("inspect-two-stdins", ["inspect", "-", "--secret-stdin"], "both come from stdin"),
    usage("inspect-bad-secret", ["inspect", "04"], "32 ASCII", env={ENV: "secret"}),
    usage("unknown-command", ["mint"], "invalid choice", "'mint'"),
]


@pytest.mark.parametrize(("args", "env", "stdin", "fragments"), USAGE_ERRORS)
def test_usage_errors(
    args: list[str], env: dict[str, str], stdin: str | None, fragments: tuple[str, ...]
) -> None:
    environ = {k: v for k, v in env.items() if k != ENV}
    assert_usage_error(zego(*args, secret=env.get(ENV), stdin=stdin, **environ), *fragments)


def test_secret_mistyped_as_an_argument_is_not_echoed() -> None:
    run = zego("inspect", token(), SECRET)
    assert_usage_error(run, "unrecognized arguments", "<long value hidden>")


def test_secret_file_that_is_not_ascii(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"\xff" * 32)
    assert_usage_error(zego(*GEN, "--secret-file", str(path)), "non-ASCII bytes")


def test_non_utf8_arguments_are_reported_not_crashed() -> None:
    environ = {k: v for k, v in os.environ.items() if k != ENV} | {ENV: SECRET}
    done = subprocess.run(
        [str(BIN), "generate", "--app-id", "7", "--user-id", b"\xff\xfe"],
        capture_output=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert done.stderr.count(b"\n") == 1 and b"UTF-8" in done.stderr


# -- serve belongs to the server; the command line only reserves the name ----------------------

# The server extra's main module reported missing, as a plain `pip install zego-token` has it
# (tests/test_plain_install.py runs the real thing in a venv without the extra).
BLOCK_SERVER = """\
import sys

sys.modules["granian"] = None
"""


def test_serve_without_the_server_says_which_extras_to_install(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(BLOCK_SERVER)
    run = zego("serve", "--demo", PYTHONPATH=str(tmp_path))
    assert run.code == 2 and run.out == ""
    # The install line's form follows how this copy was installed (tested below, and for real
    # in tests/test_plain_install.py); here it is an editable checkout or a built wheel.
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith(
        "zego-token serve needs the server extra, which is not installed: pip install "
    )
    assert "[server]" in run.err_lines[0]
    listed = zego("--help", PYTHONPATH=str(tmp_path))
    assert listed.code == 0 and "    serve " in listed.out


@pytest.mark.parametrize(
    ("direct_url", "command"),
    [
        (None, 'pip install "zego-token[server]"'),
        (
            {"url": "file:///home/me/zego-token", "dir_info": {}},
            'pip install "/home/me/zego-token[server]"',
        ),
        (
            {"url": "file:///home/me/zego%20token", "dir_info": {"editable": True}},
            'pip install -e "/home/me/zego token[server]"',
        ),
        (
            {
                "url": "https://github.com/zego-token/zego-token.git",
                "vcs_info": {"vcs": "git", "commit_id": "ab12", "requested_revision": "v1"},
            },
            'pip install "zego-token[server] @ git+https://github.com/zego-token/zego-token.git@v1"',
        ),
        (
            {
                "url": "https://github.com/zego-token/zego-token.git",
                "vcs_info": {"vcs": "git", "commit_id": "ab12"},
            },
            'pip install "zego-token[server] @ git+https://github.com/zego-token/zego-token.git"',
        ),
        (
            {"url": "file:///tmp/zego_token-0.1.0-py3-none-any.whl", "archive_info": {}},
            'pip install "zego-token[server] @ file:///tmp/zego_token-0.1.0-py3-none-any.whl"',
        ),
    ],
    ids=["index", "path", "editable-path", "git-revision", "git", "wheel-file"],
)
def test_the_server_extra_hint_fits_how_the_package_was_installed(
    direct_url: dict[str, Any] | None, command: str
) -> None:
    from zego_token.installation import server_extra_command

    assert server_extra_command(direct_url) == command


def test_serve_help_comes_from_the_server_when_it_is_installed() -> None:
    import importlib.util

    if importlib.util.find_spec("zego_token.server.cli") is None:
        pytest.skip("zego_token.server.cli is not written yet (server issue)")
    run = zego("serve", "--help")
    assert run.code == 0 and run.out.startswith("usage: zego-token serve")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_output_that_cannot_be_written_is_one_error_line() -> None:
    environ = {k: v for k, v in os.environ.items() if k != ENV} | {ENV: SECRET}
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(BIN), *GEN], stdout=full, stderr=subprocess.PIPE, env=environ, timeout=60
        )
    assert done.returncode == 2
    assert done.stderr == b"zego-token generate: error: No space left on device\n"


def test_reader_closing_the_pipe_early_is_not_a_traceback() -> None:
    environ = {k: v for k, v in os.environ.items() if k != ENV} | {ENV: SECRET}
    process = subprocess.Popen(
        [str(BIN), "inspect", token(), "--json", "--now", str(CTIME)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read()
    process.wait(timeout=60)
    assert b"Traceback" not in err and b"Exception ignored" not in err
