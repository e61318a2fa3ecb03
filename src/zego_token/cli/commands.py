"""The subcommands ``generate``, ``kit`` and ``inspect``: parse-free functions of argparse args.

Each returns an exit status; bad input raises ``UsageError`` or the library's
``InvalidParameter``, which ``main`` turns into one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from typing import Any

from ..diagnose import diagnose
from ..kit import kit_token_for_production
from ..limits import INT32_MIN, ZEGO_ID_RULE, follows_zego_id_rules
from ..privileges import privilege_payload
from ..token04 import Mode, encode_token04, read_header
from . import values
from .errors import EXIT_INVALID_TOKEN, EXIT_OK, UsageError, report
from .render import render
from .secret import read_secret

# Far above any real kit token; stops `inspect -` from reading an endless pipe.
_STDIN_TOKEN_LIMIT = 64 * 1024


def generate(args: argparse.Namespace) -> int:
    args.app_id = values.resolved_app_id(args.app_id, required=True)
    payload = _payload(args)
    if args.kit:
        if args.room is None:
            raise UsageError("--kit needs --room ROOM: the room the UIKit joins")
        if args.user_name is None:
            raise UsageError("--kit needs --user-name NAME: the name the UIKit shows")
    elif args.user_name is not None:
        raise UsageError("--user-name only applies to kit tokens: add --kit, or drop it")
    secret = read_secret(args, required=True)
    assert secret is not None
    token, expire = _mint(args, secret, payload)
    _warn_about_ids(args)
    kit_token = None
    if args.kit:
        kit_token = kit_token_for_production(
            args.app_id, token, args.room, args.user_id, args.user_name or ""
        )
    if args.json:
        out: dict[str, Any] = {
            "token": token,
            "expire": expire,
            "app_id": args.app_id,
            "user_id": args.user_id,
            "mode": args.mode,
        }
        if kit_token is not None:
            out["kit_token"] = kit_token
        _print_json(out)
    else:
        print(kit_token if kit_token is not None else token)
    return EXIT_OK


def kit(args: argparse.Namespace) -> int:
    args.app_id = values.resolved_app_id(args.app_id, required=True)
    secret = read_secret(args, required=True)
    assert secret is not None
    token, expire = _mint(args, secret, "")
    kit_token = kit_token_for_production(
        args.app_id, token, args.room, args.user_id, args.user_name
    )
    _warn_about_ids(args)
    if args.json:
        _print_json(
            {
                "kit_token": kit_token,
                "token": token,
                "expire": expire,
                "app_id": args.app_id,
                "user_id": args.user_id,
                "room_id": args.room,
                "user_name": args.user_name,
                "mode": args.mode,
            }
        )
    else:
        print(kit_token)
    return EXIT_OK


def inspect(args: argparse.Namespace) -> int:
    text = args.token
    if text == "-":
        if args.secret_stdin:
            raise UsageError(
                "the token and the ServerSecret cannot both come from stdin: pass the secret "
                "with ZEGO_SERVER_SECRET or --secret-file"
            )
        text = _read_stdin_token()
    secret = read_secret(args, required=False)
    # The client's AppID: the flag, else the AppID this shell mints for (ZEGO_APP_ID).
    app_id = values.resolved_app_id(args.app_id, required=False)
    diagnosis = diagnose(text, secret, app_id=app_id, user_id=args.user_id, now=args.now)
    if args.json:
        _print_json(diagnosis.as_dict())
    else:
        print(render(diagnosis))
    if diagnosis.verdict == "invalid":
        first = diagnosis.errors[0]
        report(args.prog, f"invalid token: {first.message}; fix: {first.fix}")
        return EXIT_INVALID_TOKEN
    return EXIT_OK


def _payload(args: argparse.Namespace) -> str:
    privilege_flags = args.no_login or args.publish or args.stream
    if args.room is None:
        if privilege_flags:
            raise UsageError("--no-login, --publish and --stream need --room ROOM")
        return args.payload if args.payload is not None else ""
    if args.payload is not None:
        raise UsageError(
            "--payload and --room both set the payload: use --room (with --publish, --stream) "
            "for privileges, or --payload for raw text"
        )
    return privilege_payload(
        args.room,
        login=not args.no_login,
        publish=args.publish,
        stream_ids=args.stream or None,
    )


def _mint(args: argparse.Namespace, secret: str, payload: str) -> tuple[str, int]:
    ctime = int(time.time()) if args.now is None else args.now
    mode: Mode = args.mode
    token = encode_token04(
        app_id=args.app_id,
        user_id=args.user_id,
        secret=secret,
        ctime=ctime,
        expire=ctime + args.ttl,
        # Same draw as generate_token04: a uniformly random signed 32-bit nonce.
        nonce=secrets.randbits(32) + INT32_MIN,
        payload=payload,
        mode=mode,
    )
    if mode == "cbc":
        report(
            args.prog,
            "CBC tokens are deprecated by ZEGO and carry no integrity check; use --mode gcm "
            "unless an old client needs CBC",
            kind="warning",
        )
    return token, read_header(token).expire


def _warn_about_ids(args: argparse.Namespace) -> None:
    for flag, value in (("--user-id", args.user_id), ("--room", getattr(args, "room", None))):
        if value and not follows_zego_id_rules(value):
            report(
                args.prog,
                f"{flag} {value!r} breaks ZEGO's ID rules ({ZEGO_ID_RULE}); "
                "ZEGO's SDKs may refuse it",
                kind="warning",
            )


def _read_stdin_token() -> str:
    if sys.stdin is None:
        raise UsageError("TOKEN is '-' but there is no standard input")
    try:
        data = sys.stdin.read(_STDIN_TOKEN_LIMIT + 1)
    except UnicodeDecodeError:
        raise UsageError("the token on stdin is not UTF-8 text") from None
    if len(data) > _STDIN_TOKEN_LIMIT:
        raise UsageError(f"stdin holds more than {_STDIN_TOKEN_LIMIT} characters: not a token")
    return data


def _print_json(value: dict[str, Any]) -> None:
    print(json.dumps(value, indent=2))
