"""``zego-token audit``: reused nonces, weak randomness and junk, in a file of many tokens."""

from __future__ import annotations

import io
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.audit_files import NOW, VECTOR_SECRET, mixed_lines
from tests.test_cli import Run, assert_usage_error, zego
from zego_token import generate_token04
from zego_token.audit import Auditor, audit, text_lines
from zego_token.cli.audit import PROGRESS_EVERY, _Progress
from zego_token.token04 import read_header


def write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def mixed(tmp_path: Path) -> str:
    return write(tmp_path / "tokens.txt", mixed_lines())


def audit_json(
    *args: str, secret: str | None = None, now: int | None = NOW
) -> tuple[Run, dict[str, object]]:
    when = () if now is None else ("--now", str(now))
    run = zego("audit", *args, *when, "--json", secret=secret)
    return run, run.json()


def codes(report: dict[str, object]) -> list[str]:
    return [f["code"] for f in report["findings"]]  # type: ignore[attr-defined]


def test_mixed_file_has_exactly_one_gcm_reuse_at_the_cpp_lines_and_exits_1(mixed: str) -> None:
    run, report = audit_json(mixed)
    assert run.code == 1
    gcm = [r for r in report["nonce_reuse"] if r["mode"] == "gcm"]  # type: ignore[attr-defined]
    assert len(gcm) == 1
    assert gcm[0]["count"] == 3 and gcm[0]["lines"] == [7, 8, 9]
    assert gcm[0]["nonce"] == bytes(read_header(mixed_lines()[6]).iv).hex()
    cbc = [r for r in report["nonce_reuse"] if r["mode"] == "cbc"]  # type: ignore[attr-defined]
    assert [(r["count"], r["lines"]) for r in cbc] == [(2, [15, 16])]
    assert (report["lines"], report["tokens"], report["blank"], report["junk"]) == (16, 13, 1, 2)
    assert codes(report) == ["gcm_nonce_reuse", "cbc_iv_reuse", "weak_randomness", "junk_lines"]
    findings = {f["code"]: f for f in report["findings"]}  # type: ignore[attr-defined]
    assert findings["gcm_nonce_reuse"]["severity"] == "error"
    assert findings["gcm_nonce_reuse"]["lines"] == [7, 8, 9]
    assert findings["junk_lines"]["lines"] == [4, 10]
    # Every token whose nonce is ASCII characters: the official Python, Go, PHP, Node.js (CBC)
    # and C++ ones; Java's SecureRandom bytes and this project's are not weak.
    assert findings["weak_randomness"]["lines"] == [1, 2, 5, 7, 8, 9, 11, 12, 15, 16]
    assert run.err == ""  # no progress line: stderr is not a terminal


def test_mixed_file_with_the_secret_names_the_generators(mixed: str) -> None:
    run, report = audit_json(mixed, secret=VECTOR_SECRET)
    assert run.code == 1
    assert report["decoded"] == 13
    generators = report["generators"]
    assert generators["cpp"] == 5  # type: ignore[index]
    assert generators["go"] == 1 and generators["java"] == 1  # type: ignore[index]
    assert generators["node|zego-token"] == 2  # type: ignore[index]
    weak = next(f for f in report["findings"] if f["code"] == "weak_randomness")  # type: ignore[attr-defined]
    assert "5 carry a nonce anyone can compute from the token's creation time" in weak["message"]


def test_mixed_file_human_output_names_the_reused_nonce_lines(mixed: str) -> None:
    run = zego("audit", mixed, "--now", str(NOW))
    assert run.code == 1
    assert "read       16 lines: 13 tokens, 1 blank, 2 junk\n" in run.out
    assert "\nerror      [gcm_nonce_reuse] 1 GCM nonce is carried by more than one token" in run.out
    assert "\n  lines    7, 8, 9\n" in run.out


def test_random_nonce_tokens_show_no_reuse_and_no_weak_randomness(tmp_path: Path) -> None:
    tokens = [
        generate_token04(
            1234567890, f"user{i}", VECTOR_SECRET, 3600, mode="gcm" if i % 3 else "cbc"
        )
        for i in range(3000)
    ]
    path = write(tmp_path / "good.txt", tokens)
    run, report = audit_json(path, secret=VECTOR_SECRET, now=None)
    assert run.code == 0, run
    assert report["nonce_reuse"] == [] and codes(report) == []
    assert report["tokens"] == report["decoded"] == 3000
    assert all("zego-token" in key for key in report["generators"])  # type: ignore[attr-defined]
    human = zego("audit", path)
    assert human.code == 0
    assert human.out.endswith("verdict    no nonce reuse, no weak randomness\n")


def test_junk_of_every_kind_is_counted_never_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "junk.txt"
    good = generate_token04(1, "a", VECTOR_SECRET, 60)
    path.write_bytes(
        b"\n".join(
            [
                b"\x00\xff\xfe binary",
                "caf\u00e9".encode(),
                b"04" + b"A" * 70_000,
                b"04AAAA",
                b"#",
                b"eyJhbGciOiJIUzI1NiJ9.e30.x",
                b"   ",
                good.encode() + b"\r",
                b"04" + good[2:].encode() + b"#not-base64-json",
            ]
        )
    )
    run, report = audit_json(str(path), secret=VECTOR_SECRET)
    assert run.code == 0
    assert (report["lines"], report["tokens"], report["blank"]) == (9, 1, 1)
    assert report["junk"] == 7 and report["decoded"] == 1


def test_a_wrong_secret_is_a_warning_not_a_crash(mixed: str) -> None:
    run, report = audit_json(mixed, secret="0123456789abcdef0123456789abcdef")
    assert run.code == 1  # the reused GCM nonce is still visible without decrypting
    assert report["decoded"] == 0
    assert "not_decoded" in codes(report)


def test_kit_tokens_are_audited_by_the_token_inside(tmp_path: Path) -> None:
    lines = mixed_lines()
    path = write(tmp_path / "kits.txt", [lines[13], lines[13]])
    run, report = audit_json(path)
    assert run.code == 1 and report["tokens"] == 2
    assert report["nonce_reuse"][0]["lines"] == [1, 2]  # type: ignore[index]


def test_several_files_and_stdin_number_lines_across_them(tmp_path: Path, mixed: str) -> None:
    first = write(tmp_path / "a.txt", mixed_lines()[6:8])
    run = zego("audit", first, "-", "--now", str(NOW), stdin=mixed_lines()[8] + "\n")
    assert run.code == 1
    assert f"lines    {first}:1, {first}:2, -:1\n" in run.out
    run, report = audit_json(first, mixed)
    assert report["sources"] == [
        {"name": first, "first_line": 1, "lines": 2},
        {"name": mixed, "first_line": 3, "lines": 16},
    ]
    assert report["nonce_reuse"][0]["lines"] == [1, 2, 9, 10, 11]  # type: ignore[index]


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, mixed: str) -> None:
    assert_usage_error(zego("audit", str(tmp_path / "missing.txt")), "cannot read", "missing.txt")
    assert_usage_error(zego("audit", str(tmp_path)), "is a directory")
    assert_usage_error(zego("audit", "-", "-", stdin=""), "only once")
    assert_usage_error(
        zego("audit", "-", "--secret-stdin", stdin=""), "cannot both come from stdin"
    )
    assert_usage_error(zego("audit", mixed, "--now", "soon"), "--now")


# -- streaming -------------------------------------------------------------------------------


def many_tokens(count: int) -> Iterator[str]:
    for _ in range(count):
        yield generate_token04(1, "a", VECTOR_SECRET, 60)


def peak_memory(count: int) -> int:
    tracemalloc.start()
    report = audit(many_tokens(count), now=NOW)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.tokens == count and report.nonce_reuse == ()
    return peak


def test_memory_does_not_grow_with_the_number_of_tokens() -> None:
    small, large = peak_memory(20_000), peak_memory(100_000)
    assert large < small * 1.5 + 1_000_000, (small, large)
    assert large < 8_000_000


def test_text_lines_yields_none_for_lines_that_are_not_tokens() -> None:
    stream = io.BytesIO(b"04ab\n\xff\n" + b"x" * 10 + b"\n")
    assert list(text_lines(stream, max_length=8)) == ["04ab\n", None, None]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only_once_the_input_is_large() -> None:
    terminal = _Terminal()
    progress = _Progress(terminal, "zego-token audit")
    for line in range(1, PROGRESS_EVERY):
        progress.tick(line)
    assert terminal.getvalue() == ""
    progress.tick(PROGRESS_EVERY)
    progress.done()
    assert terminal.getvalue() == "\rzego-token audit: 100,000 lines read\r\x1b[K"
    quiet = io.StringIO()
    silent = _Progress(quiet, "zego-token audit")
    silent.tick(PROGRESS_EVERY)
    assert quiet.getvalue() == ""


# -- this project's own nonces never repeat --------------------------------------------------


def test_library_tokens_minted_from_many_threads_never_repeat_a_nonce() -> None:
    minted: list[list[str]] = [[] for _ in range(4)]

    def mint(into: list[str]) -> None:
        for i in range(10_000):
            into.append(generate_token04(1, f"u{i}", VECTOR_SECRET, 60))

    threads = [threading.Thread(target=mint, args=(box,)) for box in minted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tokens = [t for box in minted for t in box]
    assert len({read_header(t).iv for t in tokens}) == len(tokens) == 40_000
    report = audit(tokens, now=NOW)
    assert report.nonce_reuse == () and report.findings == ()


def test_library_tokens_minted_in_forked_children_never_repeat_a_nonce() -> None:
    generate_token04(1, "warm", VECTOR_SECRET, 60)  # the parent holds unused draws
    reads, children = [], []
    for _ in range(3):
        read, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(read)
            data = "\n".join(generate_token04(1, "c", VECTOR_SECRET, 60) for _ in range(2000))
            os.write(write_end, data.encode())
            os._exit(0)
        os.close(write_end)
        reads.append(read)
        children.append(pid)
    lines = [generate_token04(1, "p", VECTOR_SECRET, 60) for _ in range(2000)]
    for read in reads:
        with os.fdopen(read, "rb") as stream:
            lines += stream.read().decode().splitlines()
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    auditor = Auditor(None, now=NOW)
    for line in lines:
        auditor.feed(line)
    report = auditor.finish()
    assert report.tokens == 8000 and report.nonce_reuse == ()
