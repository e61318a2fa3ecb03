"""A plain ``pip install zego-token`` (no ``[server]`` extra), for real: a fresh venv.

The base package depends on ``cryptography`` and ``msgspec`` only. There ``zego-token generate``
works, and ``zego-token serve`` says in one line which extra to install (exit 2) instead of
failing on a missing module deep inside start-up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SECRET
from zego_token import decode_token04

pytestmark = pytest.mark.slow  # a venv and a pip install: about 15 s with pip's cache

# What a source distribution holds: enough to build the package, nothing of this checkout's
# venv or build output (an in-tree build would write build/ into the checkout).
_SOURCES = ("pyproject.toml", "README.md", "src")
_SKIP = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding ``pip install <this checkout>``, without extras; its bin directory."""
    work = tmp_path_factory.mktemp("plain-install")
    source = work / "source"
    source.mkdir()
    for name in _SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=_SKIP)
        else:
            shutil.copy2(path, source / name)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return venv / "bin"


def _run(bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZEGO_")}
    environ.pop("PYTHONPATH", None)
    environ.update(env)
    return subprocess.run(
        [str(bin_dir / "zego-token"), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def test_the_plain_install_lacks_the_server_extra(plain_venv: Path) -> None:
    # Guards the other tests here: they mean something only without the extra's modules.
    probe = subprocess.run(
        [
            str(plain_venv / "python"),
            "-c",
            "import importlib.util as u; "
            "print([m for m in ('granian', 'prometheus_client', 'jwt', 'redis') "
            "if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert probe.stdout.strip() == "[]"


def test_serve_without_the_extra_names_it_in_one_line_exit_2(plain_venv: Path) -> None:
    for args in (["serve", "--demo"], ["serve"], ["serve", "--help"]):
        run = _run(plain_venv, *args)
        assert run.returncode == 2, run
        assert run.stdout == ""
        # Installed from a folder (a clone): the hint adds the extra from that same folder.
        assert run.stderr.splitlines() == [
            "zego-token serve needs the server extra, which is not installed: "
            f'pip install "{plain_venv.parent.parent / "source"}[server]"'
        ]


def test_generate_works_without_the_extra(plain_venv: Path) -> None:
    run = _run(
        plain_venv,
        "generate",
        "--user-id",
        "alice",
        ZEGO_APP_ID="1234567890",
        ZEGO_SERVER_SECRET=SECRET,
    )
    assert run.returncode == 0 and run.stderr == "", run
    claims = decode_token04(run.stdout.strip(), SECRET, app_id=1234567890, user_id="alice")
    assert claims.payload == ""


def test_python_m_zego_token_server_without_the_extra_is_the_same_line(plain_venv: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZEGO_")}
    environ.pop("PYTHONPATH", None)
    run = subprocess.run(
        [str(plain_venv / "python"), "-m", "zego_token.server", "--demo"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run
    assert run.stderr.splitlines() == [
        "zego-token serve needs the server extra, which is not installed: "
        f'pip install "{plain_venv.parent.parent / "source"}[server]"'
    ]
