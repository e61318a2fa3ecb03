"""``zego-token audit``: many tokens, one per line, checked for nonce reuse and weak randomness."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from ..audit import Auditor, AuditReport, text_lines
from ..diagnose import duration, iso_utc
from ..fingerprint import describe
from .errors import EXIT_INVALID_TOKEN, EXIT_OK, UsageError
from .options import add_judged_at, finish_command
from .render import printable
from .secret import read_secret

# Progress shows only on a terminal and only for a large input: from this many lines on.
PROGRESS_EVERY = 100_000
_LABEL_WIDTH = 11


@dataclass(frozen=True, slots=True)
class Source:
    """One input and the run of (1-based, audit-wide) line numbers it holds."""

    name: str
    first_line: int
    lines: int


SUMMARY = "check many tokens (one per line) for nonce reuse and weak randomness"
DESCRIPTION = (
    "Read tokens or kit tokens, one per line, from each FILE ('-' or none: stdin). Reports GCM "
    "nonces and CBC IVs used more than once, tokens from generators with weak randomness, which "
    "generators minted them, and a summary. Works without the ServerSecret; with it, the claims "
    "are read too. Exit status 0 nothing serious, 1 an error-level finding (a reused GCM "
    "nonce), 2 usage error."
)


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", metavar="FILE", nargs="*", help="token files; '-' reads stdin")
    add_judged_at(p)
    finish_command(p, run, json_help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    names: list[str] = args.files or ["-"]
    if "-" in names:
        if names.count("-") > 1:
            raise UsageError("'-' (stdin) can be given only once")
        if args.secret_stdin:
            raise UsageError(
                "the tokens and the ServerSecret cannot both come from stdin: pass the secret "
                "with ZEGO_SERVER_SECRET or --secret-file"
            )
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("no tokens: give FILE arguments, or pipe tokens in, one per line")
    secret = read_secret(args, required=False)
    # Every file is opened before any is read: a wrong name stops the audit before it starts.
    streams = [(name, _open(name)) for name in names]
    now = int(time.time()) if args.now is None else args.now
    auditor = Auditor(secret, now=now)
    sources: list[Source] = []
    progress = _Progress(sys.stderr, args.prog)
    try:
        for name, stream in streams:
            first = auditor.lines_read + 1
            for line in text_lines(stream):
                auditor.feed(line)
                progress.tick(auditor.lines_read)
            sources.append(Source(name, first, auditor.lines_read - first + 1))
    finally:
        progress.done()
        for _, stream in streams:
            if stream is not sys.stdin.buffer:
                stream.close()
    report = auditor.finish()
    if args.json:
        out = report.as_dict()
        out["sources"] = [
            {"name": s.name, "first_line": s.first_line, "lines": s.lines} for s in sources
        ]
        print(json.dumps(out, indent=2))
    else:
        print(render_report(report, sources, decoding=secret is not None))
    return EXIT_INVALID_TOKEN if report.errors else EXIT_OK


def _open(name: str) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    try:
        return open(name, "rb")
    except IsADirectoryError:
        raise UsageError(f"{name} is a directory, not a file of tokens") from None
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror}") from None


class _Progress:
    """A line on stderr counting lines read, for a person watching a large audit."""

    def __init__(self, stream: TextIO | None, prog: str) -> None:
        self.stream = stream if stream is not None and stream.isatty() else None
        self.prog = prog
        self.shown = False

    def tick(self, lines: int) -> None:
        if self.stream is not None and lines % PROGRESS_EVERY == 0:
            self.stream.write(f"\r{self.prog}: {lines:,} lines read")
            self.stream.flush()
            self.shown = True

    def done(self) -> None:
        if self.stream is not None and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def render_report(report: AuditReport, sources: list[Source], *, decoding: bool) -> str:
    r = report
    where = _Where(sources)
    decoded = f" ({r.decoded} decoded with the ServerSecret)" if decoding else ""
    lines = [
        _line(
            "read",
            f"{r.lines} line{_s(r.lines)}: {r.tokens} token{_s(r.tokens)}{decoded}, "
            f"{r.blank} blank, {r.junk} junk",
        )
    ]
    if r.tokens:
        modes = ", ".join(f"{mode.upper()} {count}" for mode, count in r.modes.items())
        lines.append(_line("modes", modes))
        lines.append(
            _line(
                "generators",
                "; ".join(f"{_generator_names(key)} ({n})" for key, n in r.generators.items()),
            )
        )
        share = round(100 * r.expired / r.tokens)
        lines.append(_line("expired", f"{r.expired} of {r.tokens} ({share} %) at {iso_utc(r.now)}"))
    if r.ttl_min is not None and r.ttl_max is not None:
        common = ", ".join(f"{duration(ttl)} x{n}" for ttl, n in r.ttl_common)
        lines.append(
            _line("TTL", f"{duration(r.ttl_min)} to {duration(r.ttl_max)} (most: {common})")
        )
    if r.ctime_min is not None and r.ctime_max is not None:
        lines.append(_line("created", f"{iso_utc(r.ctime_min)} to {iso_utc(r.ctime_max)}"))
    for reuse in r.nonce_reuse:
        name = "nonce" if reuse.mode == "gcm" else "IV"
        lines.append(
            _line(
                "reuse",
                f"{reuse.mode.upper()} {name} {reuse.nonce.hex()} x{reuse.count}: "
                f"lines {where.lines(reuse.lines, reuse.count)}",
            )
        )
    for f in r.findings:
        lines.append(_line(f.severity, f"[{f.code}] {f.message}"))
        lines.append(_line("  lines", where.lines(f.lines, f.line_count)))
        lines.append(_line("  fix", f.fix))
    if not r.findings:
        lines.append(_line("verdict", "no nonce reuse, no weak randomness"))
    return "\n".join(lines)


class _Where:
    """Line numbers as the user knows them: ``FILE:LINE`` when several files were read."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources if len(sources) > 1 else []

    def one(self, line: int) -> str:
        for s in self.sources:
            if s.first_line <= line < s.first_line + s.lines:
                return f"{s.name}:{line - s.first_line + 1}"
        return str(line)

    def lines(self, listed: tuple[int, ...], count: int) -> str:
        shown = listed[:10]
        text = ", ".join(self.one(n) for n in shown)
        if count > len(shown):
            text += f" and {count - len(shown)} more"
        return text


def _generator_names(key: str) -> str:
    return describe(g for g in key.split("|") if g != "unknown")


def _line(label: str, value: str) -> str:
    return f"{label:<{_LABEL_WIDTH}}{printable(value)}"


def _s(count: int) -> str:
    return "" if count == 1 else "s"
