"""``zego-token serve``: the name is reserved here, the server lives in ``zego_token.server``.

The server module (and its extras) is imported only when ``serve`` is asked for, so the other
commands start fast and work with the base install. Whether the extras are installed is
checked once, up front, by module name: an install without the extra then gets one line
saying what to install instead of an import error from deep inside start-up, in the form
that fits how this copy was installed (``zego_token.installation``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import cast

from ..installation import install_server_extra

SERVER_CLI_MODULE = "zego_token.server.cli"
# The top-level modules of the ``server`` extra in pyproject.toml (tests/test_facts_once.py
# holds the two lists together).
SERVER_EXTRA_MODULES = ("granian", "msgspec", "prometheus_client", "jwt", "redis")
# In the server extra on the platforms that have it; the server runs without it.
SERVER_EXTRA_OPTIONAL_MODULES = ("uvloop",)
_HINT = "zego-token serve needs the server extra, which is not installed: "

RunServe = Callable[[argparse.Namespace], int]


def extras_hint() -> str:
    """The one line saying how to add the server extra to this installation."""
    return _HINT + install_server_extra()


def missing_server_modules() -> list[str]:
    """The server extra's modules that cannot be found (empty when the extra is installed)."""
    return [name for name in SERVER_EXTRA_MODULES if not _importable(name)]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        # ValueError: a module object without a spec stands in sys.modules (a stub).
        return False


def run_config_check(args: argparse.Namespace) -> int:
    """``zego-token config check``: the server's configuration reader, so the server extra."""
    if missing_server_modules():
        print(extras_hint().replace("zego-token serve", "zego-token config check"), file=sys.stderr)
        return 2
    module = importlib.import_module("zego_token.server.config_check")
    return cast(int, module.run_check(args))


def load_server_cli(parser: argparse.ArgumentParser) -> RunServe | None:
    """Add the server's arguments to ``parser``; None when the server extra is missing."""
    if missing_server_modules():
        return None
    module = importlib.import_module(SERVER_CLI_MODULE)
    module.add_serve_arguments(parser)
    return cast(RunServe, module.run_serve)
