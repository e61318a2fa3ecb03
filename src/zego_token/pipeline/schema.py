"""Typed reading of one configuration section for the auth, policy, hook and rate-limit steps.

Each settings class declares ``FIELDS`` (key -> str/int/float/bool/list); this checks a parsed
TOML table (or the core's environment overlay, already converted with ``FIELDS``) against it, so
every mistake stops start-up with a ``ConfigError`` naming the dotted key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


class ConfigError(Exception):
    """Invalid configuration: stops start-up. ``key`` names the offending key, dotted
    (``auth.jwt.audience``), so the message can point at the exact line to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"configuration key {key}: {message}")
        self.key = key
        self.message = message


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a finite number", bool: "true or false"}


def read_fields(
    section: str, data: Mapping[str, object], fields: Mapping[str, type]
) -> dict[str, object]:
    """Return ``data`` with lists turned into tuples, after checking every key and type."""
    values: dict[str, object] = {}
    for key, value in data.items():
        dotted = f"{section}.{key}"
        expected = fields.get(key)
        if expected is None:
            raise ConfigError(dotted, f"unknown key; known keys are {', '.join(sorted(fields))}")
        values[key] = _check(dotted, value, expected)
    return values


def _check(dotted: str, value: object, expected: type) -> object:
    if expected is list:
        if isinstance(value, str):
            # A single string where a list is expected is the common TOML slip: take it as one
            # item rather than splitting it into characters.
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(dotted, "must be a list of strings")
        return tuple(value)
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        # TOML allows nan and inf; NaN passes every "<= 0" check, so refuse both here.
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)  # type: ignore[arg-type]
        if ok:
            value = float(value)  # type: ignore[arg-type]
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise ConfigError(dotted, f"must be {_TYPE_NAMES.get(expected, expected.__name__)}")
    return value


def positive(dotted: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(dotted, f"must be greater than 0, got {value}")
