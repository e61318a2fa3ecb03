"""Audit many tokens at once: nonce reuse, weak randomness, and what minted them.

Tokens stream through one at a time; the only thing kept per token is its nonce or IV and line
number, in an SQLite table on disk (the standard library's, with a small page cache), because
reuse detection must remember every nonce seen. Everything else is a running count, so a file
of millions of tokens is read in bounded memory.

Two GCM tokens with the same nonce under one ServerSecret give away the GHASH key: whoever sees
both can forge tokens ZEGO accepts. Two CBC tokens with the same IV show where their plaintexts
begin alike. Both are what ZEGO's C++ generator does within any one second.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .diagnose import CLOCK_SKEW_TOLERANCE, Severity, duration
from .errors import DecryptionFailed, MalformedToken
from .fingerprint import (
    Alphabet,
    Fingerprint,
    describe,
    fingerprint_claims,
    fingerprint_header,
    iv_alphabet,
)
from .kit import parse_kit_token
from .token04 import Mode, read_claims_text, read_header

# A finding lists at most this many line numbers (and says how many there are in all).
MAX_LISTED_LINES = 100
# ctime going back by more than this against the file's order is worth a word.
OUT_OF_ORDER_TOLERANCE = 5
_BATCH = 10_000
_MODE_NUMBER: dict[Mode, int] = {"gcm": 1, "cbc": 0}
_MODES: tuple[Mode, ...] = ("cbc", "gcm")


@dataclass(frozen=True, slots=True)
class NonceReuse:
    """One nonce (GCM) or IV (CBC) carried by ``count`` tokens, at these 1-based lines."""

    nonce: bytes
    mode: Mode
    count: int
    lines: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce.hex(),
            "count": self.count,
            "lines": list(self.lines),
            "mode": self.mode,
        }


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One thing wrong across the tokens; ``lines`` holds the first ``MAX_LISTED_LINES`` of the
    ``line_count`` lines it concerns."""

    code: str
    severity: Severity
    message: str
    fix: str
    lines: tuple[int, ...]
    line_count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "lines": list(self.lines),
            "line_count": self.line_count,
        }


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What ``audit`` found: the counts, the reused nonces, and the findings (errors first)."""

    now: int
    lines: int
    blank: int
    junk: int
    tokens: int
    decoded: int
    generators: dict[str, int]
    modes: dict[str, int]
    expired: int
    ttl_min: int | None
    ttl_max: int | None
    ttl_common: tuple[tuple[int, int], ...]
    ctime_min: int | None
    ctime_max: int | None
    ctime_back: int
    nonce_reuse: tuple[NonceReuse, ...]
    findings: tuple[AuditFinding, ...]

    @property
    def errors(self) -> tuple[AuditFinding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    def as_dict(self) -> dict[str, Any]:
        ttl = None
        if self.ttl_min is not None:
            ttl = {
                "min": self.ttl_min,
                "max": self.ttl_max,
                "most_common": [list(pair) for pair in self.ttl_common],
            }
        ctime = None
        if self.ctime_min is not None:
            ctime = {
                "min": self.ctime_min,
                "max": self.ctime_max,
                "max_backwards_in_file_order": self.ctime_back,
            }
        return {
            "tokens": self.tokens,
            "decoded": self.decoded,
            "lines": self.lines,
            "blank": self.blank,
            "junk": self.junk,
            "now": self.now,
            "generators": self.generators,
            "modes": self.modes,
            "expired": self.expired,
            "ttl": ttl,
            "ctime": ctime,
            "nonce_reuse": [r.as_dict() for r in self.nonce_reuse],
            "findings": [f.as_dict() for f in self.findings],
        }


def generator_key(fp: Fingerprint) -> str:
    """The key ``generators`` counts a fingerprint under: its candidates joined by ``|``."""
    return "|".join(fp.candidates) or "unknown"


def audit(lines: Iterable[str | None], secret: str | None = None, *, now: int) -> AuditReport:
    """Audit one token per item of ``lines`` (None stands for a line that is not text).

    With ``secret`` the claims are read too: generators are told apart by their JSON, and
    creation times, lifetimes and clock skew are reported."""
    auditor = Auditor(secret, now=now)
    for line in lines:
        auditor.feed(line)
    return auditor.finish()


@dataclass
class _Lines:
    """Line numbers of one finding: the first few, and how many in all."""

    listed: list[int] = field(default_factory=list)
    count: int = 0

    def add(self, line: int) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED_LINES:
            self.listed.append(line)


class Auditor:
    """The streaming audit: ``feed`` each line in order, then ``finish`` once."""

    def __init__(self, secret: str | None, *, now: int) -> None:
        self.secret = secret
        self.now = now
        self.line = 0
        self.blank = 0
        self.tokens = 0
        self.decoded = 0
        self.expired = 0
        self.junk = _Lines()
        self.undecoded = _Lines()
        self.weak = _Lines()
        self.predictable = _Lines()
        self.future = _Lines()
        self.weak_sources: Counter[str] = Counter()
        self.generators: Counter[str] = Counter()
        self.modes: Counter[str] = Counter()
        self.ttls: Counter[int] = Counter()
        self.ttl_min: int | None = None
        self.ttl_max: int | None = None
        self.ctime_min: int | None = None
        self.ctime_max: int | None = None
        self.ctime_back = 0
        self.ctime_back_lines: tuple[int, int] | None = None
        self._latest: tuple[int, int] | None = None  # the highest ctime so far, and its line
        self._header_prints: dict[tuple[Mode, Alphabet, int], Fingerprint] = {}
        self._pending: list[tuple[bytes, int, int]] = []
        # "" is a private on-disk temporary database: its pages spill to disk, not to memory.
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE seen (nonce BLOB, mode INTEGER, line INTEGER)")

    @property
    def lines_read(self) -> int:
        return self.line

    def feed(self, text: str | None) -> None:
        self.line += 1
        if text is None:
            self.junk.add(self.line)
            return
        text = text.strip()
        if not text:
            self.blank += 1
            return
        try:
            token = parse_kit_token(text).token if "#" in text else text
            header = read_header(token)
        except MalformedToken:
            self.junk.add(self.line)
            return
        self.tokens += 1
        self.modes[header.mode] += 1
        if header.expire <= self.now:
            self.expired += 1
        self._pending.append((header.iv, _MODE_NUMBER[header.mode], self.line))
        if len(self._pending) >= _BATCH:
            self._flush()
        fp = None
        if self.secret is not None:
            fp = self._read_claims(token, header.mode, header.iv)
        if fp is None:
            fp = self._header_print(header.mode, header.iv)
        self.generators[generator_key(fp)] += 1
        if fp.weak_randomness:
            self.weak.add(self.line)
            self.weak_sources[describe(fp.candidates)] += 1
        if fp.predictable:
            self.predictable.add(self.line)

    def _header_print(self, mode: Mode, iv: bytes) -> Fingerprint:
        # Without the claims a fingerprint depends only on the mode and the IV's alphabet.
        shape = (mode, iv_alphabet(iv), len(iv))
        found = self._header_prints.get(shape)
        if found is None:
            found = self._header_prints[shape] = fingerprint_header(mode, iv)
        return found

    def _read_claims(self, token: str, mode: Mode, iv: bytes) -> Fingerprint | None:
        assert self.secret is not None
        try:
            _, text = read_claims_text(token, self.secret)
        except (DecryptionFailed, MalformedToken):
            self.undecoded.add(self.line)
            return None
        fp = fingerprint_claims(mode, iv, text)
        ctime, expire = _times(text)
        if ctime is None or expire is None:
            self.undecoded.add(self.line)
            return fp
        self.decoded += 1
        self._note_times(ctime, expire)
        return fp

    def _note_times(self, ctime: int, expire: int) -> None:
        ttl = expire - ctime
        self.ttl_min = ttl if self.ttl_min is None else min(self.ttl_min, ttl)
        self.ttl_max = ttl if self.ttl_max is None else max(self.ttl_max, ttl)
        if ttl in self.ttls or len(self.ttls) < 10_000:  # bounded: odd lifetimes go uncounted
            self.ttls[ttl] += 1
        self.ctime_min = ctime if self.ctime_min is None else min(self.ctime_min, ctime)
        self.ctime_max = ctime if self.ctime_max is None else max(self.ctime_max, ctime)
        if ctime > self.now + CLOCK_SKEW_TOLERANCE:
            self.future.add(self.line)
        latest = self._latest
        if latest is None or ctime >= latest[0]:
            self._latest = (ctime, self.line)
        elif latest[0] - ctime > self.ctime_back:
            self.ctime_back = latest[0] - ctime
            self.ctime_back_lines = (latest[1], self.line)

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO seen VALUES (?, ?, ?)", self._pending)
        self._pending.clear()

    def _reuse(self) -> list[NonceReuse]:
        self._flush()
        rows = self._db.execute(
            "SELECT nonce, mode, count(*), group_concat(line) FROM seen "
            "GROUP BY nonce, mode HAVING count(*) > 1"
        )
        found = [
            NonceReuse(
                nonce=nonce,
                mode="gcm" if mode == 1 else "cbc",
                count=count,
                lines=tuple(sorted(int(n) for n in lines.split(","))),
            )
            for nonce, mode, count, lines in rows
        ]
        self._db.close()
        return sorted(found, key=lambda r: (r.mode != "gcm", r.lines[0]))

    def finish(self) -> AuditReport:
        reuse = self._reuse()
        findings = self._findings(reuse)
        return AuditReport(
            now=self.now,
            lines=self.line,
            blank=self.blank,
            junk=self.junk.count,
            tokens=self.tokens,
            decoded=self.decoded,
            generators=dict(self.generators.most_common()),
            modes={m: self.modes[m] for m in _MODES if self.modes[m]},
            expired=self.expired,
            ttl_min=self.ttl_min,
            ttl_max=self.ttl_max,
            ttl_common=tuple(self.ttls.most_common(3)),
            ctime_min=self.ctime_min,
            ctime_max=self.ctime_max,
            ctime_back=self.ctime_back,
            nonce_reuse=tuple(reuse),
            findings=tuple(findings),
        )

    def _findings(self, reuse: list[NonceReuse]) -> list[AuditFinding]:
        found: list[AuditFinding] = []

        def add(code: str, severity: Severity, message: str, fix: str, lines: _Lines) -> None:
            found.append(
                AuditFinding(code, severity, message, fix, tuple(lines.listed), lines.count)
            )

        for mode in ("gcm", "cbc"):
            groups = [r for r in reuse if r.mode == mode]
            if not groups:
                continue
            lines = _Lines()
            for line in sorted(n for r in groups for n in r.lines):
                lines.add(line)
            tokens = sum(r.count for r in groups)
            if mode == "gcm":
                add(
                    "gcm_nonce_reuse",
                    "error",
                    f"{len(groups)} GCM nonce{_s(len(groups))} {_are(len(groups))} carried by "
                    f"more than one token ({tokens} tokens): with a repeated nonce under one "
                    "ServerSecret, anyone who sees two such tokens can recover the GCM "
                    "authentication key and forge tokens ZEGO accepts",
                    "rotate the ServerSecret in the ZEGOCLOUD console, then mint with a "
                    "generator whose nonces come from a cryptographic random source (this "
                    "project's generate_token04 or zego-token serve); ZEGO's C++ generator "
                    "repeats the nonce for every token within one second",
                    lines,
                )
            else:
                add(
                    "cbc_iv_reuse",
                    "warning",
                    f"{len(groups)} CBC IV{_s(len(groups))} {_are(len(groups))} carried by more "
                    f"than one token ({tokens} tokens): CBC with a repeated IV shows where two "
                    "tokens' claims begin alike",
                    "mint GCM tokens with random nonces (this project's generate_token04, or "
                    "the GCM version of an official generator that draws random bytes)",
                    lines,
                )
        if self.weak.count:
            sources = "; ".join(f"{who}: {n}" for who, n in self.weak_sources.most_common())
            predictable = ""
            if self.predictable.count:
                predictable = (
                    f"; {self.predictable.count} carry a nonce anyone can compute from the "
                    "token's creation time (C++: srand(time(0)) and rand())"
                )
            add(
                "weak_randomness",
                "warning",
                f"{self.weak.count} token{_s(self.weak.count)} draw their nonce or IV from a "
                f"non-cryptographic or time-seeded random generator ({sources}){predictable}",
                "mint with a generator that draws nonces from a cryptographic random source: "
                "this project (generate_token04, zego-token serve), or the GCM version of the "
                "Go, Java, Node.js or .NET generator",
                self.weak,
            )
        if self.undecoded.count:
            add(
                "not_decoded",
                "warning",
                f"{self.undecoded.count} token{_s(self.undecoded.count)} did not decrypt with "
                "this ServerSecret: minted for another AppID, or altered",
                "audit each AppID's tokens with that AppID's ServerSecret",
                self.undecoded,
            )
        if self.future.count:
            add(
                "created_in_future",
                "warning",
                f"{self.future.count} token{_s(self.future.count)} were created more than "
                f"{CLOCK_SKEW_TOLERANCE} s after now: the minting server's clock is ahead",
                "synchronise the token servers' clocks (NTP)",
                self.future,
            )
        if self.ctime_back > OUT_OF_ORDER_TOLERANCE and self.ctime_back_lines is not None:
            first, later = self.ctime_back_lines
            back_by = duration(self.ctime_back)
            back = _Lines()
            back.add(first)
            back.add(later)
            add(
                "ctime_out_of_order",
                "info",
                f"creation times go back by up to {back_by} against the file's order (line "
                f"{later} was created {back_by} before line {first}): "
                "tokens from servers whose clocks differ, or a file not kept in minting order",
                "if the file is in minting order, synchronise the token servers' clocks (NTP)",
                back,
            )
        if self.junk.count:
            add(
                "junk_lines",
                "info",
                f"{self.junk.count} line{_s(self.junk.count)} {_are(self.junk.count)} neither "
                "blank nor a token",
                "give one token or kit token per line",
                self.junk,
            )
        order = ("error", "warning", "info")
        return sorted(found, key=lambda f: order.index(f.severity))


def text_lines(stream: Iterable[bytes], *, max_length: int = 64 * 1024) -> Iterator[str | None]:
    """The lines of a binary stream as text; None for a line that is not ASCII or is longer
    than ``max_length`` (no token is), so one odd line never stops an audit."""
    for raw in stream:
        if len(raw) > max_length:
            yield None
            continue
        try:
            yield raw.decode("ascii")
        except UnicodeDecodeError:
            yield None


def _times(text: str) -> tuple[int | None, int | None]:
    try:
        claims = json.loads(text)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(claims, dict):
        return None, None
    ctime, expire = claims.get("ctime"), claims.get("expire")
    return (
        ctime if type(ctime) is int else None,
        expire if type(expire) is int else None,
    )


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


__all__ = [
    "MAX_LISTED_LINES",
    "AuditFinding",
    "AuditReport",
    "Auditor",
    "NonceReuse",
    "audit",
    "generator_key",
    "text_lines",
]
