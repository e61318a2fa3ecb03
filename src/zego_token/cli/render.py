"""A Diagnosis as text for a terminal: aligned fields, then the verdict, then causes and fixes."""

from __future__ import annotations

from ..diagnose import Diagnosis, expiry_phrase, iso_utc, payload_kind, relative_phrase
from ..privileges import has_empty_stream_list

_LABEL_WIDTH = 11


def printable(text: str) -> str:
    """Escape control and invisible characters so a hostile token cannot drive the terminal."""
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _line(label: str, value: str) -> str:
    return f"{label:<{_LABEL_WIDTH}}{printable(value)}"


def render(diagnosis: Diagnosis) -> str:
    d = diagnosis
    lines: list[str] = []
    if d.header is not None:
        h = d.header
        iv_name = "nonce" if h.mode == "gcm" else "IV"
        lines.append(
            _line(
                "token",
                f"Token{h.version} {h.mode.upper()}, {h.iv_length}-byte {iv_name}, "
                f"{h.ciphertext_length}-byte ciphertext",
            )
        )
    if d.kit is not None:
        k = d.kit
        lines.append(
            _line(
                "kit token",
                f"AppID {k.app_id}, user ID {k.user_id}, room ID {k.room_id}, "
                f"user name {k.user_name or '(none)'}",
            )
        )
    if d.claims is not None:
        c = d.claims
        lines += [
            _line("app ID", str(c.app_id)),
            _line("user ID", c.user_id),
            _line("nonce", str(c.nonce)),
            _line("created", f"{iso_utc(c.ctime)} ({relative_phrase(c.ctime, d.now)})"),
            _line("expires", f"{iso_utc(c.expire)} ({expiry_phrase(c.expire, d.now)})"),
            _line("payload", _payload(c.payload)),
        ]
        if c.privileges is not None:
            p = c.privileges
            if has_empty_stream_list(c.payload):
                streams = "any stream (ZEGO treats an empty list as no restriction)"
            elif p.stream_ids is None:
                streams = "streams any"
            else:
                streams = "streams " + ", ".join(p.stream_ids)
            lines.append(
                _line(
                    "privileges",
                    f"room {p.room_id}: login {_yes(p.login)}, publish {_yes(p.publish)}, "
                    + streams,
                )
            )
    elif d.header is not None:
        h = d.header
        lines.append(
            _line(
                "expires",
                f"{iso_utc(h.expire)} ({expiry_phrase(h.expire, d.now)}; from the header, "
                "not authenticated)",
            )
        )
    if d.generator is not None:
        lines.append(_line("generator", d.generator.label()))
    lines.append(_line("verdict", _verdict(d)))
    for finding in d.findings:
        lines.append(_line(finding.severity, f"[{finding.code}] {finding.message}"))
        lines.append(_line("  fix", finding.fix))
    return "\n".join(lines)


def _payload(payload: str) -> str:
    kind = payload_kind(payload)
    if kind == "empty":
        return "(empty: no room privileges)"
    if kind == "free":
        return f"{payload} (free payload of a basic token: no room privileges)"
    return payload


def _verdict(d: Diagnosis) -> str:
    if d.verdict == "valid":
        assert d.claims is not None
        return f"valid: opens with this ServerSecret and holds until {iso_utc(d.claims.expire)}"
    if d.verdict == "unverified":
        return "unverified: nothing wrong is readable, but only the ServerSecret can prove it"
    count = len(d.errors)
    return f"invalid ({count} problem{'s' if count != 1 else ''})"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
