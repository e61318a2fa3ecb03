"""Where the command line gets the ServerSecret: a flag, else the environment.

Precedence: ``--secret-file PATH``, ``--secret-stdin`` or ``--secret VALUE`` (warned; at most
one of them) win; without one, the environment as the server reads it
(``zego_token.environment``): ``ZEGO_SERVER_SECRET`` or ``ZEGO_SERVER_SECRET_FILE``, both at
once being an error. Whatever the source, the secret is only checked by shape; messages name
the source and the shape, never the value.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from ..environment import (
    ENV_SECRET,
    ENV_SECRET_FILE,
    SECRET_FILE_LIMIT,
    EnvironmentValueError,
    decode_secret,
    read_secret_file,
    secret_from_environment,
)
from ..errors import InvalidParameter
from ..limits import check_secret
from .errors import UsageError

ENV_VAR = ENV_SECRET
# A ServerSecret is 32 characters; reading more than this from a pipe is a mistake.
_READ_LIMIT = SECRET_FILE_LIMIT

SECRET_ARGUMENT_WARNING = (
    "--secret puts the ServerSecret in your shell history and the process list; prefer "
    f"{ENV_VAR}, --secret-file PATH or --secret-stdin"
)


def add_secret_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "ServerSecret",
        f"read from ${ENV_VAR} or ${ENV_SECRET_FILE} unless one of these is given (never printed)",
    )
    sources = group.add_mutually_exclusive_group()
    sources.add_argument(
        "--secret-file", metavar="PATH", help="read the ServerSecret from this file"
    )
    sources.add_argument(
        "--secret-stdin",
        action="store_true",
        help="read the ServerSecret from standard input (prompts without echo on a terminal)",
    )
    sources.add_argument(
        "--secret",
        metavar="VALUE",
        help="the ServerSecret itself (warns: it shows in the process list and shell history)",
    )


def read_secret(args: argparse.Namespace, *, required: bool) -> str | None:
    """The ServerSecret from the chosen source, checked; None when optional and absent."""
    source, value = _flag_secret(args)
    if source is None:
        return _environment_secret(required=required)
    assert value is not None
    value = value.strip()
    try:
        check_secret(value)
    except InvalidParameter as error:
        raise UsageError(f"the ServerSecret from {source} is unusable: {error}") from None
    return value


def _environment_secret(*, required: bool) -> str | None:
    try:
        found = secret_from_environment(os.environ)
    except EnvironmentValueError as error:
        raise UsageError(
            f"the ServerSecret from {error.variable} is unusable: {error.message}"
        ) from None
    if found is None:
        if required:
            raise UsageError(
                f"no ServerSecret: set {ENV_VAR} or {ENV_SECRET_FILE}, or pass --secret-file PATH "
                "or --secret-stdin (the 32-character ServerSecret from the ZEGOCLOUD console)"
            )
        return None
    return found[1]


def _flag_secret(args: argparse.Namespace) -> tuple[str | None, str | None]:
    if args.secret is not None:
        return "--secret", args.secret
    if args.secret_file is not None:
        return f"--secret-file {args.secret_file}", _read_file(args.secret_file)
    if args.secret_stdin:
        return "--secret-stdin", _read_stdin()
    return None, None


def _read_file(path: str) -> str:
    try:
        return read_secret_file("--secret-file", path)
    except EnvironmentValueError as error:
        raise UsageError(f"--secret-file: {error.message}") from None


def _read_stdin() -> str:
    if sys.stdin is None:
        raise UsageError("--secret-stdin was given but there is no standard input")
    if sys.stdin.isatty():
        return getpass.getpass("ServerSecret: ")
    try:
        return decode_secret("--secret-stdin", sys.stdin.buffer.read(_READ_LIMIT + 1), "stdin")
    except EnvironmentValueError as error:
        raise UsageError(f"--secret-stdin: {error.message}") from None
