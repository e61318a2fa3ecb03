"""The one configuration schema layer: typed section classes, read from TOML or the environment.

A section is a ``Section`` (a ``msgspec.Struct``): its fields' types and ``Meta`` constraints say
what is accepted, and its ``__post_init__`` holds the checks that span fields. ``read`` converts
a parsed TOML table (or the environment's values, converted by ``from_env`` first) into one and
words every refusal the same way: ``configuration key <key>: must be <what>, got <value>``, with
``(set by <VARIABLE>)`` when the value came from the environment.
"""

from __future__ import annotations

import ipaddress
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

import msgspec

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
S = TypeVar("S", bound="Section")
T = TypeVar("T")


class ConfigError(Exception):
    """Invalid configuration: stops start-up. ``key`` names the offending key, dotted
    (``auth.jwt.audience``), so the message can point at the exact line to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"configuration key {key}: {message}")
        self.key = key
        self.message = message


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A configuration section. ``SECTION`` is its dotted name in the TOML file."""

    SECTION: ClassVar[str]

    @classmethod
    def from_mapping(cls: type[S], data: Mapping[str, object]) -> S:
        """The section from a TOML table or an app's own mapping; ``ConfigError`` otherwise."""
        return read(cls, data, cls.SECTION)


def read(cls: type[T], data: object, where: str = "", sources: Mapping[str, str] = {}) -> T:
    """``data`` as a ``cls``; raises ``ConfigError`` naming the key (``where`` prefixes it)."""
    try:
        return msgspec.convert(data, cls, strict=True)
    except msgspec.ValidationError as error:
        raise with_source(_refusal(cls, data, where, str(error)), sources) from None
    except ConfigError as error:
        raise with_source(error, sources) from None


def with_source(error: ConfigError, sources: Mapping[str, str]) -> ConfigError:
    """``error`` with ``(set by VARIABLE)`` when its key (or the list it is in) came from the
    environment."""
    key = error.key
    while key:
        source = sources.get(key)
        if source is not None:
            if source.isupper() and source not in error.message:
                return ConfigError(error.key, f"{error.message} (set by {source})")
            return error
        key = key.rpartition(".")[0] if "[" not in key else key.rpartition("[")[0]
    return error


# -- the wording --------------------------------------------------------------------------------

_AT = re.compile(r"^(?P<text>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>[^`]+)`")
_MISSING = re.compile(r"Object missing required field `(?P<name>[^`]+)`")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _refusal(cls: type, data: object, where: str, text: str) -> ConfigError:
    match = _AT.match(text)
    assert match is not None  # the pattern matches any text
    message = match.group("text")
    path: list[str | int] = [
        name if name else int(index) for name, index in _STEP.findall(match.group("path") or "")
    ]
    unknown = _UNKNOWN.match(message)
    missing = _MISSING.match(message)
    if unknown or missing:
        owner = _type_at(cls, path)
        name = (unknown or missing).group("name")  # type: ignore[union-attr]
        key = _dotted(where, [*path, name])
        table = _dotted(where, path) or "the file"
        if unknown:
            known = ", ".join(sorted(_field_types(owner)))
            if not path and not where:
                return ConfigError(key, f"unknown section; known: {known}")
            return ConfigError(key, f"unknown key in [{table}]; known keys: {known}")
        described = _describe(_field_types(owner)[name], name)
        return ConfigError(key, f"is required: {described}")
    # A wrong item of a list of values is named by the list's key and the item's index.
    item = None
    if path and isinstance(path[-1], int) and not _is_table(_type_at(cls, path)):
        item = path[-1]
        path = path[:-1]
    kind = _type_at(cls, path)
    value = _value_at(data, path)
    key = _dotted(where, path)
    if item is not None:
        element = _value_at(value, [item])
        return ConfigError(
            key, f"item {item} ({_show(element)}) is not {_describe(_element(kind), key)}"
        )
    shown = "" if _is_secret(cls, path) else f", got {_show(value)}"
    return ConfigError(key, f"must be {_describe(kind, key)}{shown}")


def _dotted(where: str, path: list[str | int]) -> str:
    key = where
    for step in path:
        key = f"{key}[{step}]" if isinstance(step, int) else f"{key}.{step}" if key else step
    return key


def _unwrap(kind: Any) -> tuple[Any, msgspec.Meta | None]:
    """The type without ``Annotated`` and ``| None``, and its ``Meta`` if any."""
    meta = None
    while True:
        if typing.get_origin(kind) is Annotated:
            kind, *extras = typing.get_args(kind)
            meta = next((m for m in extras if isinstance(m, msgspec.Meta)), meta)
        elif typing.get_origin(kind) in (Union, types.UnionType):
            options = [a for a in typing.get_args(kind) if a is not type(None)]
            if len(options) != 1:
                return kind, meta
            kind = options[0]
        else:
            return kind, meta


def _field_types(cls: Any) -> dict[str, Any]:
    cls, _ = _unwrap(cls)
    if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
        return {f.name: f.type for f in msgspec.structs.fields(cls)}
    return {}


def _element(kind: Any) -> Any:
    kind, _ = _unwrap(kind)
    args = [a for a in typing.get_args(kind) if a is not Ellipsis]
    return args[0] if args else Any


def _type_at(cls: Any, path: list[str | int]) -> Any:
    kind = cls
    for step in path:
        kind = _element(kind) if isinstance(step, int) else _field_types(kind).get(step, Any)
    return kind


def _value_at(data: object, path: list[str | int]) -> object:
    for step in path:
        if isinstance(step, int) and isinstance(data, list | tuple) and step < len(data):
            data = data[step]
        elif isinstance(step, str) and isinstance(data, Mapping):
            data = data.get(step)
        else:
            return None
    return data


def _is_table(kind: Any) -> bool:
    kind, _ = _unwrap(kind)
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _is_secret(cls: Any, path: list[str | int]) -> bool:
    _, meta = _unwrap(_type_at(cls, path))
    return bool(meta is not None and meta.extra and meta.extra.get("secret"))


_NAMES = {int: "an integer (a whole number)", float: "a number", bool: "true or false"}


def _describe(kind: Any, key: str) -> str:
    """What a value of ``kind`` must be, in words: ``an integer (a whole number) in 1..256``."""
    kind, meta = _unwrap(kind)
    if meta is not None and meta.description:
        return meta.description + _bounds(meta, brief=True)
    origin = typing.get_origin(kind)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(kind))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a, key) for a in typing.get_args(kind) if a is not type(None))
    if origin in (tuple, list):
        element, _ = _unwrap(_element(kind))
        if isinstance(element, type) and issubclass(element, msgspec.Struct):
            return f"an array of tables: [[{key}]]"
        return f"a list of {_plural(element)}"
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return f"a table: [{key}]"
    if kind is str:
        return "a string" + _bounds(meta)
    return _NAMES.get(kind, getattr(kind, "__name__", str(kind))) + _bounds(meta)


def _plural(kind: Any) -> str:
    return {str: "strings", int: "integers (AppIDs)"}.get(kind, "values")


def _bounds(meta: msgspec.Meta | None, *, brief: bool = False) -> str:
    if meta is None:
        return ""
    low, high = meta.ge, meta.le
    if low is not None and high is not None:
        return f" ({low}..{high})" if brief else f" in {low}..{high}"
    parts = []
    if meta.gt is not None:
        parts.append(f"greater than {meta.gt}")
    if low is not None:
        parts.append(f"at least {low}")
    if high is not None:
        parts.append(f"at most {high}")
    if not parts:
        return ""
    return f" ({', '.join(parts)})" if brief else " " + " and ".join(parts)


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a string of {len(value)} characters"
    if value is None:
        return "nothing"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


# -- the environment ----------------------------------------------------------------------------

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def kind_of(kind: Any) -> type:
    """What an environment string becomes for a field of ``kind``: str, int, float, bool or
    list (comma-separated)."""
    kind, _ = _unwrap(kind)
    origin = typing.get_origin(kind)
    if origin in (tuple, list):
        return list
    if origin in (Union, types.UnionType):  # str | tuple[str, ...]: a list from the environment
        return list
    if kind in (int, float, bool):
        return typing.cast(type, kind)
    return str


def fields_of(cls: type) -> dict[str, type]:
    """Each key of section ``cls`` -> what an environment string becomes for it."""
    return {name: kind_of(kind) for name, kind in _field_types(cls).items()}


def from_env(variable: str, key: str, text: str, kind: Any) -> object:
    """The environment's ``text`` as a value for the field ``key`` of ``kind``."""
    text = text.strip()
    converted = kind_of(kind)
    try:
        if converted is list:
            return [item.strip() for item in text.split(",") if item.strip()]
        if converted is int and re.fullmatch(r"[+-]?[0-9]{1,18}", text):
            return int(text)
        if converted is float:
            number = float(text)
            if math.isfinite(number):
                return number
        if converted is bool and text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        if converted is str:
            plain, _ = _unwrap(kind)
            return text.lower() if typing.get_origin(plain) is Literal else text
    except ValueError:
        pass
    raise ConfigError(key, f"must be {_describe(kind, key)}, got {_show(text)} (set by {variable})")
