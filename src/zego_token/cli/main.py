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
from .secret import ENV_VAR, SECRET_ARGUMENT_WARNING, add_secret_arguments
from .serve import extras_hint, load_server_cli

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
        "generate": _add_generate(sub),
        "inspect": _add_inspect(sub),
        "kit": _add_kit(sub),
        "audit": audit.add_parser(sub),
        "serve": sub.add_parser(
            "serve",
            help="run the production token server (needs the server extras)",
            description="Run the token server (needs the server extra: README, Install).",
        ),
    }
    return parser, commands_by_name


def _add_generate(sub: argparse._SubParsersAction[Parser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "generate",
        help="mint a token (or a kit token) and print it",
        description="Mint a Token04 and print it on stdout, nothing else. With --room the token "
        "is a strict token carrying room privileges.",
    )
    _add_identity(p)
    _add_ttl_mode(p)
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
    p.add_argument("--json", action="store_true", help="print JSON with the token and its claims")
    add_secret_arguments(p)
    p.set_defaults(handler=commands.generate)
    return p


def _add_kit(sub: argparse._SubParsersAction[Parser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "kit",
        help="mint a UIKit kit token and print it",
        description="Mint a token and compose the kit token ZegoUIKitPrebuilt.create() takes "
        "(what generateKitTokenForTest does in the browser, done with the secret kept here).",
    )
    _add_identity(p)
    p.add_argument("--room", metavar="ROOM", required=True, help="room ID the UIKit joins")
    p.add_argument("--user-name", metavar="NAME", required=True, help="user name the UIKit shows")
    _add_ttl_mode(p)
    p.add_argument("--json", action="store_true", help="print JSON with the kit token and fields")
    add_secret_arguments(p)
    p.set_defaults(handler=commands.kit)
    return p


def _add_inspect(sub: argparse._SubParsersAction[Parser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "inspect",
        help="explain a token or kit token: claims, expiry, privileges, what is wrong",
        description="Explain a token or kit token. Without a ServerSecret it shows what anyone "
        "can read; with one it decrypts and checks the claims. Ends with a verdict and, for an "
        "invalid token, the likely cause and fix. Exit status 0 valid (or nothing wrong "
        "readable without a secret), 1 invalid.",
    )
    p.add_argument("token", metavar="TOKEN", help="the token or kit token; '-' reads stdin")
    p.add_argument(
        "--app-id",
        type=values.app_id,
        metavar="N",
        help=f"AppID the client uses (default: ${ENV_APP_ID} when set)",
    )
    p.add_argument("--user-id", metavar="U", help="user ID the client logs in with")
    p.add_argument(
        "--now", type=values.unix_time, metavar="UNIX", help="judge expiry at this Unix time"
    )
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    add_secret_arguments(p)
    p.set_defaults(handler=commands.inspect)
    return p


def _add_identity(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--app-id",
        type=values.app_id,
        metavar="N",
        help=f"AppID (ZEGOCLOUD console); default ${ENV_APP_ID}, required if that is unset",
    )
    p.add_argument("--user-id", metavar="U", required=True, help="user ID the client logs in with")


def _add_ttl_mode(p: argparse.ArgumentParser) -> None:
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
        parser.error("choose a command: generate, inspect, kit, audit or serve")
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
