"""``zego-token serve``: the name is reserved here, the server lives in ``zego_token.server``.

The server module (and its extras) is imported only when ``serve`` is asked for, so the other
commands start fast and work with the base install.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import cast

SERVER_CLI_MODULE = "zego_token.server.cli"
EXTRAS_HINT = "zego-token serve needs the server extras: pip install 'zego-token[server]'"

RunServe = Callable[[argparse.Namespace], int]


def load_server_cli(parser: argparse.ArgumentParser) -> RunServe | None:
    """Add the server's arguments to ``parser``; None when the server cannot be imported."""
    try:
        module = importlib.import_module(SERVER_CLI_MODULE)
    except ImportError:
        return None
    module.add_serve_arguments(parser)
    return cast(RunServe, module.run_serve)
