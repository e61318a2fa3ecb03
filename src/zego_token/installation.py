"""How this copy of zego-token was installed, for messages that say how to add an extra.

Until a release is on PyPI, ``pip install "zego-token[server]"`` finds nothing: the line must
name the clone's folder, or the Git URL, the package came from. pip records that in PEP 610's
``direct_url.json``; no such file means an index (or no installation: a source tree on
``sys.path``).
"""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any
from urllib.parse import unquote, urlsplit

DISTRIBUTION = "zego-token"


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
