"""The command line reads the environment the server reads (``zego_token.environment``).

``ZEGO_APP_ID`` stands in for ``--app-id``; ``ZEGO_SERVER_SECRET`` or
``ZEGO_SERVER_SECRET_FILE`` for the secret flags; a flag always wins; both secret variables at
once is an error, as in the server. Every run is the installed console script (``zego()``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SECRET
from tests.test_cli import CTIME, OTHER_SECRET, Run, assert_usage_error, token, zego
from zego_token import decode_token04, parse_kit_token

APP = "1234567890"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "zego-secret"
    path.write_text(SECRET + "\n")  # as `kubectl create secret --from-file` mounts it
    return path


def _claims(run: Run, *, app_id: int = int(APP)) -> object:
    assert run.code == 0 and run.err == "", run
    return decode_token04(run.out.strip(), SECRET, app_id=app_id, user_id="alice")


def test_generate_takes_the_app_id_and_the_secret_file_from_the_environment(
    secret_file: Path,
) -> None:
    run = zego(
        "generate", "--user-id", "alice", ZEGO_APP_ID=APP, ZEGO_SERVER_SECRET_FILE=str(secret_file)
    )
    _claims(run)


def test_generate_takes_a_secret_with_a_trailing_newline_from_the_variable() -> None:
    run = zego("generate", "--user-id", "alice", ZEGO_APP_ID=APP, ZEGO_SERVER_SECRET=SECRET + "\n")
    _claims(run)


def test_kit_takes_the_app_id_from_the_environment(secret_file: Path) -> None:
    run = zego(
        "kit",
        "--room",
        "room1",
        "--user-id",
        "alice",
        "--user-name",
        "Alice",
        ZEGO_APP_ID=APP,
        ZEGO_SERVER_SECRET_FILE=str(secret_file),
    )
    assert run.code == 0, run
    kit = parse_kit_token(run.out.strip())
    assert kit.app_id == int(APP)
    decode_token04(kit.token, SECRET, app_id=int(APP), user_id="alice")


def test_inspect_uses_the_secret_file_and_checks_against_the_environments_app_id(
    secret_file: Path,
) -> None:
    env = {"ZEGO_SERVER_SECRET_FILE": str(secret_file)}
    mine = zego("inspect", token(), "--now", str(CTIME), ZEGO_APP_ID=APP, **env)
    assert mine.code == 0 and "verdict    valid" in mine.out, mine
    other_app = zego("inspect", token(), "--now", str(CTIME), ZEGO_APP_ID="42", **env)
    assert other_app.code == 1 and "[app_id_mismatch]" in other_app.out
    assert "AppID 42" in other_app.err


def test_flags_win_over_the_environment(secret_file: Path) -> None:
    # --app-id over ZEGO_APP_ID; --secret-file over an unusable ZEGO_SERVER_SECRET.
    run = zego(
        "generate",
        "--app-id",
        "7",
        "--user-id",
        "alice",
        "--secret-file",
        str(secret_file),
        ZEGO_APP_ID=APP,
        ZEGO_SERVER_SECRET="not-a-secret",
    )
    _claims(run, app_id=7)


def test_both_secret_variables_at_once_are_a_usage_error(secret_file: Path) -> None:
    run = zego(
        "generate",
        "--user-id",
        "alice",
        ZEGO_APP_ID=APP,
        ZEGO_SERVER_SECRET=SECRET,
        ZEGO_SERVER_SECRET_FILE=str(secret_file),
    )
    assert_usage_error(run, "ZEGO_SERVER_SECRET and ZEGO_SERVER_SECRET_FILE", "not both")


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({}, ("no AppID", "--app-id", "ZEGO_APP_ID")),
        ({"ZEGO_APP_ID": "12x"}, ("ZEGO_APP_ID", "numeric AppID")),
        ({"ZEGO_APP_ID": "0"}, ("ZEGO_APP_ID", "1..4294967295")),
    ],
    ids=["no-app-id", "app-id-not-a-number", "app-id-zero"],
)
def test_app_id_missing_or_wrong_in_the_environment_is_one_line(
    env: dict[str, str], fragments: tuple[str, ...]
) -> None:
    assert_usage_error(zego("generate", "--user-id", "alice", secret=SECRET, **env), *fragments)


def test_secret_file_that_cannot_be_read_names_the_variable(tmp_path: Path) -> None:
    run = zego(
        "generate",
        "--user-id",
        "alice",
        ZEGO_APP_ID=APP,
        ZEGO_SERVER_SECRET_FILE=str(tmp_path / "missing"),
    )
    assert_usage_error(run, "ZEGO_SERVER_SECRET_FILE", "cannot read")


def test_secret_of_the_wrong_length_after_stripping_is_refused() -> None:
    run = zego(
        "generate", "--user-id", "alice", ZEGO_APP_ID=APP, ZEGO_SERVER_SECRET=OTHER_SECRET + "x\n"
    )
    assert_usage_error(run, "ZEGO_SERVER_SECRET", "got 33 characters")


def test_a_bad_zego_app_id_is_echoed_like_the_flag_unless_it_may_be_a_secret() -> None:
    bad = zego("generate", "--user-id", "alice", ZEGO_APP_ID="myapp", ZEGO_SERVER_SECRET=SECRET)
    assert_usage_error(bad, "ZEGO_APP_ID", "got 'myapp'")
    # The ServerSecret put in the AppID's variable by mistake is never printed.
    swapped = zego("generate", "--user-id", "alice", ZEGO_APP_ID=SECRET, ZEGO_SERVER_SECRET=SECRET)
    assert_usage_error(swapped, "ZEGO_APP_ID", "got 32 characters, not shown")
    assert SECRET not in swapped.err


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_token_pasted_with_its_quotes_is_told_to_lose_them(quote: str) -> None:
    run = zego("inspect", f"{quote}{token()}{quote}", "--now", str(CTIME))
    assert run.code == 1
    assert "wrapped in quotes" in run.err and "remove the quotes" in run.err
