"""docs/cli.md's `zego-token audit` examples, run as written on the file they name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.audit_files import mixed_lines

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"
EXAMPLE = ROOT / "docs" / "examples" / "tokens-mixed.txt"


def audit_examples() -> list[tuple[str, str]]:
    """Each console block running ``zego-token audit``: its command and its pasted output."""
    found = []
    for block in DOC.read_text().split("```console\n")[1:]:
        body = block.split("```", 1)[0]
        command, _, output = body.partition("\n")
        if "zego-token audit" in command:
            found.append((command.removeprefix("$ "), output))
    return found


def test_the_example_file_is_the_one_the_tests_build() -> None:
    assert EXAMPLE.read_text() == "\n".join(mixed_lines()) + "\n"


def test_cli_md_has_audit_examples() -> None:
    assert len(audit_examples()) == 2


@pytest.mark.parametrize("command, output", audit_examples(), ids=lambda x: str(x)[:60])
def test_each_audit_example_prints_what_the_doc_shows(command: str, output: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEGO_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", f'{command} 2>&1; echo "# exit status $?"'],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout == output


def test_the_security_guides_command_runs_as_written(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    section = text.split("## Is your current generator safe?", 1)[1].split("\n## ", 1)[0]
    command = section.split("```sh\n", 1)[1].split("```", 1)[0].strip()
    assert command == "zego-token audit tokens.txt"
    (tmp_path / "tokens.txt").write_text(EXAMPLE.read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEGO_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, env=env,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "[gcm_nonce_reuse]" in done.stdout
