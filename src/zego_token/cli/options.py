"""Options more than one command takes, declared once so their flags and help read the same."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..environment import ENV_APP_ID
from . import values
from .secret import add_secret_arguments


def add_identity(p: argparse.ArgumentParser) -> None:
    """The AppID and user ID a minting command puts in the token."""
    p.add_argument(
        "--app-id",
        type=values.app_id,
        metavar="N",
        help=f"AppID (ZEGOCLOUD console); default ${ENV_APP_ID}, required if that is unset",
    )
    p.add_argument("--user-id", metavar="U", required=True, help="user ID the client logs in with")


def add_ttl_mode(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ttl", type=values.ttl, default=3600, metavar="SECONDS", help="lifetime (default 3600)"
    )
    p.add_argument(
        "--mode",
        choices=("gcm", "cbc"),
        default="gcm",
        help="encryption: gcm (default) or cbc (deprecated by ZEGO)",
    )
    p.add_argument(
        "--now", type=values.unix_time, metavar="UNIX", help="mint as if it were this Unix time"
    )


def add_judged_at(p: argparse.ArgumentParser) -> None:
    """``--now`` for the commands that judge tokens rather than mint them."""
    p.add_argument(
        "--now", type=values.unix_time, metavar="UNIX", help="judge expiry at this Unix time"
    )


def finish_command(
    p: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int], *, json_help: str
) -> None:
    """What every token command ends with: ``--json``, the ServerSecret's sources (last in
    ``--help``, as their own group) and the handler that runs it."""
    p.add_argument("--json", action="store_true", help=json_help)
    add_secret_arguments(p)
    p.set_defaults(handler=handler)
