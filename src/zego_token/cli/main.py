"""The argument parser and the entry point: dispatch, exit statuses, and no tracebacks."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..environment import ENV_APP_ID, ENV_SECRET_FILE
from ..errors import InvalidParameter, ZegoTokenError
from . import audit, commands, values
from .errors import EXIT_INVALID_TOKEN, EXIT_USAGE, Parser, UsageError, report
from .options import add_identity, add_judged_at, add_ttl_mode, finish_command
from .secret import ENV_VAR, SECRET_ARGUMENT_WARNING
from .serve import extras_hint, load_server_cli, run_config_check

PROG = "zego-token"

Handler = Callable[[argparse.Namespace], int]

_EPILOG = f"""\
exit status: 0 success or valid token, 1 invalid token, 2 usage error.
The AppID comes from --app-id, else ${ENV_APP_ID}. The ServerSecret comes from --secret-file PATH
or --secret-stdin, else ${ENV_VAR} or ${ENV_SECRET_FILE} (not both); it is never printed.
Run '{PROG} COMMAND --help' for each command's options."""


def build_parser() -> tuple[Parser, dict[str, argparse.ArgumentParser]]:
    parser = Parser(
        prog=PROG,
        description="Mint, inspect and explain ZEGOCLOUD Token04 tokens and UIKit kit tokens.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands_by_name = {
        name: _add_command(sub, name, summary, description, add_options)
        for name, (summary, description, add_options) in _COMMANDS.items()
    }
    return parser, commands_by_name


def _add_command(
    sub: argparse._SubParsersAction[Parser],
    name: str,
    summary: str,
    description: str,
    add_options: Callable[[argparse.ArgumentParser], None] | None,
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=summary, description=description)
    if add_options is not None:
        add_options(p)
    return p


def _config_options(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="config_command", metavar="ACTION", parser_class=Parser)
    check = actions.add_parser(
        "check",
        help="read and check the configuration as serve does, and summarise it",
        description="Read the configuration as 'zego-token serve' does (the file and the "
        "ZEGO_* environment variables), check it, and print what it amounts to and where each "
        "value came from; never a secret. Binds no port and contacts nothing unless "
        "--connect. Exit status 0 valid, 1 a --connect check failed, 2 invalid.",
    )
    check.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (also ZEGO_TOKEN_CONFIG); see docs/configuration.md",
    )
    check.add_argument(
        "--connect",
        action="store_true",
        help="also fetch the JWKS, ping the rate-limit store (Redis) and import the hook",
    )
    check.set_defaults(handler=run_config_check)
    p.set_defaults(config_parser=p)


def _generate_options(p: argparse.ArgumentParser) -> None:
    add_identity(p)
    add_ttl_mode(p)
    room = p.add_argument_group("room privileges (strict token)")
    room.add_argument("--room", metavar="ROOM", help="room ID the token grants")
    room.add_argument("--no-login", action="store_true", help="do not grant logging in to ROOM")
    room.add_argument("--publish", action="store_true", help="grant publishing streams in ROOM")
    room.add_argument(
        "--stream",
        metavar="STREAM",
        action="append",
        default=[],
        help="allowed stream ID (repeat it; default: any stream)",
    )
    p.add_argument("--payload", metavar="RAW", help="raw payload text instead of --room")
    p.add_argument("--kit", action="store_true", help="print a UIKit kit token (needs --room)")
    p.add_argument("--user-name", metavar="NAME", help="user name in the kit token (with --kit)")
    finish_command(p, commands.generate, json_help="print JSON with the token and its claims")


def _kit_options(p: argparse.ArgumentParser) -> None:
    add_identity(p)
    p.add_argument("--room", metavar="ROOM", required=True, help="room ID the UIKit joins")
    p.add_argument("--user-name", metavar="NAME", required=True, help="user name the UIKit shows")
    add_ttl_mode(p)
    finish_command(p, commands.kit, json_help="print JSON with the kit token and fields")


def _inspect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("token", metavar="TOKEN", help="the token or kit token; '-' reads stdin")
    p.add_argument(
        "--app-id",
        type=values.app_id,
        metavar="N",
        help=f"AppID the client uses (default: ${ENV_APP_ID} when set)",
    )
    p.add_argument("--user-id", metavar="U", help="user ID the client logs in with")
    add_judged_at(p)
    finish_command(p, commands.inspect, json_help="print the diagnosis as JSON")


# Each command: its one-line summary in the command list, its description in its own --help,
# and what adds its options; in the order the command list shows them.
_COMMANDS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None] | None]] = {
    "generate": (
        "mint a token (or a kit token) and print it",
        "Mint a Token04 and print it on stdout, nothing else. With --room the token is a strict "
        "token carrying room privileges.",
        _generate_options,
    ),
    "inspect": (
        "explain a token or kit token: claims, expiry, privileges, what is wrong",
        "Explain a token or kit token. Without a ServerSecret it shows what anyone can read; "
        "with one it decrypts and checks the claims. Ends with a verdict and, for an invalid "
        "token, the likely cause and fix. Exit status 0 valid (or nothing wrong readable "
        "without a secret), 1 invalid.",
        _inspect_options,
    ),
    "kit": (
        "mint a UIKit kit token and print it",
        "Mint a token and compose the kit token ZegoUIKitPrebuilt.create() takes (what "
        "generateKitTokenForTest does in the browser, done with the secret kept here).",
        _kit_options,
    ),
    "config": (
        "check the server's configuration before a deploy",
        "Work with the token server's configuration (needs the server extras).",
        _config_options,
    ),
    "audit": (audit.SUMMARY, audit.DESCRIPTION, audit.add_options),
    "serve": (
        "run the production token server (needs the server extras)",
        "Run the token server (needs the server extra: README, Install).",
        None,  # its options come with the server extra, when 'serve' is the command run
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A decoded user ID may hold lone surrogates; print them escaped rather than crash.
        sys.stdout.reconfigure(errors="backslashreplace")
    parser, subparsers = build_parser()
    if _command_word(arguments) == "serve":
        run_serve = load_server_cli(subparsers["serve"])
        if run_serve is None:
            print(extras_hint(), file=sys.stderr)
            return EXIT_USAGE
        subparsers["serve"].set_defaults(handler=run_serve)
    args = parser.parse_args(arguments)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        if args.command == "config":
            subparsers["config"].error("choose an action: check")
        parser.error("choose a command: config, generate, inspect, kit, audit or serve")
    prog = subparsers[args.command].prog
    args.prog = prog
    if getattr(args, "secret", None) is not None:
        report(prog, SECRET_ARGUMENT_WARNING, kind="warning")
    try:
        status = handler(args)
        # Flush here, not at exit, so a full disk or closed pipe is reported like any error.
        sys.stdout.flush()
        return status
    except UsageError as error:
        report(prog, str(error))
        return EXIT_USAGE
    except InvalidParameter as error:
        report(prog, values.flag_message(error))
        return EXIT_USAGE
    except ZegoTokenError as error:
        report(prog, str(error))
        return EXIT_INVALID_TOKEN
    except KeyboardInterrupt:
        report(prog, "interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): nothing left to say, and nowhere to say it.
        _discard_stdout()
        return EXIT_USAGE
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        report(prog, f"{error.strerror or type(error).__name__}{where}")
        # What stdout still buffers would fail again at exit, as a traceback-like message.
        _discard_stdout()
        return EXIT_USAGE
    except Exception as error:
        # A bug of ours: still one line, and only the type, since a message could quote input.
        report(prog, f"internal error ({type(error).__name__}); please report it")
        return EXIT_INVALID_TOKEN


def _discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _command_word(arguments: list[str]) -> str | None:
    """The subcommand named in ``arguments`` (top-level options take no values)."""
    return next((a for a in arguments if not a.startswith("-")), None)
