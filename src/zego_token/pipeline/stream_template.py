"""The ``policy.stream_id_template`` grammar: which stream IDs a (room ID, user ID) may publish.

A template such as ``{room_id}_{user_id}_*`` becomes, per request, a glob the stream IDs must
match. ZEGO allows ``_`` (and most punctuation) inside IDs, so the template alone is ambiguous:
user ``bob`` would match ``team-1_bob_smith_cam``, the stream of user ``bob_smith``. The rule
that makes it unambiguous:

- the template names both ``{room_id}`` and ``{user_id}``: a stream ID belongs to one user in
  one room (ZEGO's stream IDs are unique per AppID, across rooms);
- each ``{room_id}`` and ``{user_id}`` is followed by the end of the template or by a literal
  character, its *separator*; glob characters (``* ? [ ]``) come only after the last one;
- a room or user ID that contains a separator is refused for stream IDs under this template.

Then a stream ID is read from the left without choice: the fixed text up to the first ID, the
ID up to its separator (which it cannot contain), and so on, so no stream ID can match the
template of two different (room ID, user ID) pairs. ``{app_id}`` is fixed text for a given app.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

GLOB_CHARACTERS = frozenset("*?[]")
ID_FIELDS = ("room_id", "user_id")
FIELDS = frozenset({*ID_FIELDS, "app_id"})


class TemplateError(ValueError):
    """The template breaks the grammar; the message says what to change."""


@dataclass(frozen=True)
class StreamTemplate:
    """A checked template: ``separators`` are the characters IDs may not contain under it."""

    text: str
    separators: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> StreamTemplate:
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as error:
            raise TemplateError(f"is not a valid template: {error}") from None
        # (literal text, placeholder name or None) in order, with literal braces unescaped.
        items: list[tuple[str, str | None]] = []
        for literal, name, spec, conversion in parts:
            if literal:
                items.append((literal, None))
            if name is None:
                continue
            if name not in FIELDS or spec or conversion:
                raise TemplateError(
                    f"unknown placeholder {{{name}}}; use {{room_id}}, {{user_id}} or {{app_id}}"
                )
            items.append(("", name))
        names = {name for _, name in items}
        missing = [f"{{{name}}}" for name in ID_FIELDS if name not in names]
        if missing:
            raise TemplateError(
                f"must contain both {{room_id}} and {{user_id}} (missing {', '.join(missing)}): "
                'a stream ID belongs to one user in one room, e.g. "{room_id}_{user_id}_*"'
            )
        last_id = max(i for i, (_, name) in enumerate(items) if name in ID_FIELDS)
        separators: set[str] = set()
        for index, (literal, name) in enumerate(items):
            if name is None and index < last_id and GLOB_CHARACTERS.intersection(literal):
                raise TemplateError(
                    f"glob characters (* ? [ ]) may only follow the last {{room_id}} or "
                    f"{{user_id}}, not {literal!r}: before it they would let one ID pass for "
                    "another"
                )
            if name not in ID_FIELDS or index + 1 == len(items):
                continue
            following, following_name = items[index + 1]
            if following_name is not None or following[0] in GLOB_CHARACTERS:
                raise TemplateError(
                    f"{{{name}}} must be followed by a separator character such as '_' or by "
                    "the end of the template, so that where the ID ends is unambiguous"
                )
            separators.add(following[0])
        return cls(text, frozenset(separators))

    def separator_in(self, value: str) -> str | None:
        """The first separator ``value`` contains, or None."""
        for character in value:
            if character in self.separators:
                return character
        return None

    def glob(self, *, room_id: str, user_id: str, app_id: int) -> str:
        """The ``fnmatch`` pattern of this pair's stream IDs (IDs match only themselves)."""
        return self.text.format(
            room_id=_glob_literal(room_id), user_id=_glob_literal(user_id), app_id=str(app_id)
        )


def _glob_literal(value: str) -> str:
    # IDs may contain * ? [ (ZEGO allows them); inside a template they must match themselves.
    return re.sub(r"([*?\[])", r"[\1]", value)
