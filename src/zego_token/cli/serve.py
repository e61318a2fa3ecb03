"""``zego-token serve``: the name is reserved here, the server lives in ``zego_token.server``.

The server module (and its extras) is imported only when ``serve`` is asked for, so the other
commands start fast and work with the base install. Whether the extras are installed is
checked once, up front, by module name: an install without the extra then gets one line
saying what to install instead of an import error from deep inside start-up. That line names
the extra in the form that fits how this copy was installed (PEP 610's ``direct_url.json``): a
clone's path, the repository URL, or the package index.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import unquote, urlsplit

SERVER_CLI_MODULE = "zego_token.server.cli"
# The top-level modules of the ``server`` extra in pyproject.toml (distribution -> module):
# granian, prometheus-client, pyjwt, redis.
SERVER_EXTRA_MODULES = ("granian", "prometheus_client", "jwt", "redis")
DISTRIBUTION = "zego-token"
_HINT = "zego-token serve needs the server extra, which is not installed: "

RunServe = Callable[[argparse.Namespace], int]


def extras_hint() -> str:
    """The one line saying how to add the server extra to this installation."""
    return _HINT + install_server_extra()


def install_server_extra() -> str:
    """The ``pip install`` line that adds the server extra to this installation."""
    return server_extra_command(_direct_url())


def server_extra_command(direct_url: dict[str, Any] | None) -> str:
    """The ``pip install`` line that adds the server extra, given PEP 610's ``direct_url.json``
    (None: installed from a package index, or not installed at all)."""
    url = direct_url.get("url") if direct_url else None
    if not isinstance(url, str) or direct_url is None:
        return f'pip install "{DISTRIBUTION}[server]"'
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict):
        revision = vcs.get("requested_revision")
        at = f"@{revision}" if isinstance(revision, str) and revision else ""
        return f'pip install "{DISTRIBUTION}[server] @ {vcs.get("vcs", "git")}+{url}{at}"'
    parts = urlsplit(url)
    if parts.scheme == "file" and "dir_info" in direct_url:
        path = unquote(parts.path)
        editable = direct_url["dir_info"].get("editable") is True
        return f'pip install {"-e " if editable else ""}"{path}[server]"'
    return f'pip install "{DISTRIBUTION}[server] @ {url}"'


def _direct_url() -> dict[str, Any] | None:
    try:
        text = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        found = json.loads(text) if text else None
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def missing_server_modules() -> list[str]:
    """The server extra's modules that cannot be found (empty when the extra is installed)."""
    return [name for name in SERVER_EXTRA_MODULES if not _importable(name)]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        # ValueError: a module object without a spec stands in sys.modules (a stub).
        return False


def load_server_cli(parser: argparse.ArgumentParser) -> RunServe | None:
    """Add the server's arguments to ``parser``; None when the server extra is missing."""
    if missing_server_modules():
        return None
    module = importlib.import_module(SERVER_CLI_MODULE)
    module.add_serve_arguments(parser)
    return cast(RunServe, module.run_serve)
