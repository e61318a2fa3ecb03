"""The AppID and ServerSecret from the environment: one reading for the CLI and the server.

Both read the same variables by the same rules, so the shell that runs ``zego-token serve``
can run ``zego-token generate`` unchanged:

- ``ZEGO_APP_ID``: the numeric AppID.
- ``ZEGO_SERVER_SECRET`` (the value) or ``ZEGO_SERVER_SECRET_FILE`` (a path to it); setting
  both is an error, because which one wins would be a guess.

Surrounding whitespace is stripped from the secret in both forms: a file ends with a newline,
and a variable filled from a file keeps it (a Kubernetes Secret made with ``kubectl create
secret --from-file`` and exposed through ``secretKeyRef``). An empty variable counts as unset,
the shell's way to switch one off. Command-line flags, where a tool has them, win over all of
this; that precedence lives with each tool, not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import InvalidParameter, ZegoTokenError
from .limits import MAX_APP_ID, check_secret

ENV_APP_ID = "ZEGO_APP_ID"
ENV_SECRET = "ZEGO_SERVER_SECRET"
ENV_SECRET_FILE = "ZEGO_SERVER_SECRET_FILE"
BOTH_SECRETS = f"{ENV_SECRET} and {ENV_SECRET_FILE}"

# A ServerSecret is 32 characters; a file much longer than that is the wrong file.
SECRET_FILE_LIMIT = 4096


class EnvironmentValueError(ZegoTokenError):
    """An environment variable (or the secret file it or a setting names) is unusable.

    ``variable`` names the source (or both, when two conflict); ``message`` says what is wrong
    and never contains the value.
    """

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


def app_id_from_environment(env: Mapping[str, str]) -> int | None:
    """``ZEGO_APP_ID`` as a checked AppID, or None when it is unset or empty."""
    text = env.get(ENV_APP_ID, "").strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,10}", text) or not 0 < int(text) <= MAX_APP_ID:
        # Echoed like --app-id's value, unless long enough to be a ServerSecret put in the
        # wrong variable (an AppID has at most 10 digits).
        got = f"got {text!r}" if len(text) <= 16 else f"got {len(text)} characters, not shown"
        raise EnvironmentValueError(
            ENV_APP_ID,
            f"must be the numeric AppID from the ZEGOCLOUD console (1..{MAX_APP_ID}), {got}",
        )
    return int(text)


def secret_from_environment(env: Mapping[str, str]) -> tuple[str, str] | None:
    """``(variable it came from, checked ServerSecret)``, or None when neither form is set."""
    value = env.get(ENV_SECRET) or None
    path = env.get(ENV_SECRET_FILE) or None
    if value is not None and path is not None:
        raise EnvironmentValueError(
            BOTH_SECRETS, "set either the secret or the secret file, not both"
        )
    if value is not None:
        return ENV_SECRET, checked_secret(ENV_SECRET, value)
    if path is not None:
        return ENV_SECRET_FILE, checked_secret(
            ENV_SECRET_FILE, read_secret_file(ENV_SECRET_FILE, path)
        )
    return None


def checked_secret(variable: str, raw: str) -> str:
    """``raw`` without surrounding whitespace, checked to be a ServerSecret's shape."""
    value = raw.strip()
    try:
        check_secret(value)
    except InvalidParameter as error:
        raise EnvironmentValueError(variable, str(error)) from None
    return value


def read_secret_file(variable: str, path: str) -> str:
    """The text of the secret file ``path``, unchecked and unstripped; errors name ``variable``.

    The one reader of secret files: ``ZEGO_SERVER_SECRET_FILE``, ``[[apps]] secret_file`` and
    the CLI's ``--secret-file``.
    """
    try:
        with open(path, "rb") as file:
            data = file.read(SECRET_FILE_LIMIT + 1)
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise EnvironmentValueError(variable, f"cannot read {path}: {reason}") from None
    return decode_secret(variable, data, path)


def decode_secret(variable: str, data: bytes, where: str) -> str:
    """Secret bytes read from ``where`` (a file, a pipe) as text: a ServerSecret is ASCII."""
    if len(data) > SECRET_FILE_LIMIT:
        raise EnvironmentValueError(
            variable,
            f"{where} holds more than {SECRET_FILE_LIMIT} bytes; it should hold only the "
            "32-character ServerSecret",
        )
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise EnvironmentValueError(
            variable,
            f"{where} contains non-ASCII bytes; a ServerSecret is 32 ASCII characters (copy it "
            "again from the ZEGOCLOUD console)",
        ) from None


__all__ = [
    "BOTH_SECRETS",
    "ENV_APP_ID",
    "ENV_SECRET",
    "ENV_SECRET_FILE",
    "EnvironmentValueError",
    "app_id_from_environment",
    "checked_secret",
    "decode_secret",
    "read_secret_file",
    "secret_from_environment",
]
