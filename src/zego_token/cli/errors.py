"""How the command line reports problems: one line on stderr, an exit status, no traceback."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

EXIT_OK = 0
EXIT_INVALID_TOKEN = 1
EXIT_USAGE = 2

# argparse echoes stray arguments; anything this long could be a ServerSecret or a token.
_SECRET_SHAPED = re.compile(r"\S{32,}")


class UsageError(Exception):
    """A mistake in how the command was called; its message says how to fix it."""


def redact(message: str) -> str:
    """Hide every word long enough to be a ServerSecret (32 characters) or a token."""
    return _SECRET_SHAPED.sub("<long value hidden>", message)


def report(prog: str, message: str, *, kind: str = "error") -> None:
    """Print ``prog: error: message`` as exactly one line on stderr."""
    one_line = " ".join(message.split())
    print(f"{prog}: {kind}: {one_line}", file=sys.stderr)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (argparse prints the usage too) that never echo secrets."""

    def error(self, message: str) -> NoReturn:
        report(self.prog, f"{redact(message)} (see '{self.prog} --help')")
        sys.exit(EXIT_USAGE)
