"""argparse converters for ZEGO's numbers, with messages that say what a good value looks like."""

from __future__ import annotations

import argparse
import os

from ..environment import ENV_APP_ID, EnvironmentValueError, app_id_from_environment
from ..errors import InvalidParameter
from ..limits import INT32_MAX, INT64_MAX, check_app_id
from .errors import UsageError

# Library parameter names, as the flags a person typed them.
FLAG_OF_PARAMETER = {
    "app_id": "--app-id",
    "user_id": "--user-id",
    "room_id": "--room",
    "stream_ids": "--stream",
    "user_name": "--user-name",
    "effective_time_in_seconds": "--ttl",
    "payload": "--payload",
    "mode": "--mode",
}


def _whole_number(text: str, what: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        shown = repr(text) if len(text) < 32 else "a long value"
        raise argparse.ArgumentTypeError(f"{what}, got {shown}") from None


def app_id(text: str) -> int:
    value = _whole_number(text, "must be a whole number: the AppID from the ZEGOCLOUD console")
    try:
        return check_app_id(value)
    except InvalidParameter as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def resolved_app_id(flag_value: int | None, *, required: bool) -> int | None:
    """``--app-id`` when given, else ``ZEGO_APP_ID`` (as the server reads it), else None."""
    if flag_value is not None:
        return flag_value
    try:
        from_env = app_id_from_environment(os.environ)
    except EnvironmentValueError as error:
        raise UsageError(str(error)) from None
    if from_env is None and required:
        raise UsageError(
            f"no AppID: pass --app-id N or set {ENV_APP_ID} (the AppID from the ZEGOCLOUD console)"
        )
    return from_env


def ttl(text: str) -> int:
    wanted = f"must be a positive whole number of seconds (1..{INT32_MAX}), e.g. 3600"
    value = _whole_number(text, wanted)
    if not 0 < value <= INT32_MAX:
        raise argparse.ArgumentTypeError(f"{wanted}, got {value}")
    return value


def unix_time(text: str) -> int:
    wanted = "must be a Unix time in whole seconds, e.g. 1700000000"
    value = _whole_number(text, wanted)
    if not 0 <= value <= INT64_MAX:
        raise argparse.ArgumentTypeError(f"{wanted}, got {value}")
    return value


def flag_message(error: InvalidParameter) -> str:
    """The library's message, prefixed with the flag that carried the bad value."""
    flag = FLAG_OF_PARAMETER.get(error.parameter)
    return f"{flag}: {error}" if flag else str(error)
