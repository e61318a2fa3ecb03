"""What the repository promises about itself as a package, checked against the files that say
it: one version, the license, the metadata, the supported Pythons, which tests run where, and
the GitHub workflows (actionlint, and CI running exactly the README's test command).

The built artifact itself is checked by scripts/test-artifact (scripts/check-dist), which
``scripts/test`` runs beside pytest.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trove_classifiers
import yaml

import zego_token

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]
HOME = "https://github.com/zego-token/zego-token"
# sha256 of the Apache License 2.0 as the ASF publishes it (LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

# Top-level test files that are not portable (tests/portable.txt), and why: each needs a
# service, a tool or a file that only the full suite on the main Python has.
NOT_PORTABLE = {
    "tests/test_auth_jwt.py": "server internals, a test identity provider",
    "tests/test_auth_jwt_verify.py": "server internals, the test identity provider's helpers",
    "tests/test_bench_references.py": "bench/ scripts and the official generators' dev packages",
    "tests/test_bench_smoke.py": "bench/ scripts and the reference generator's dev packages",
    "tests/test_chaos_accounting.py": "bench/ scripts",
    "tests/test_deploy_manifests.py": "deploy/ files and pyyaml",
    "tests/test_docs_audit.py": "docs/cli.md, docs/security.md and docs/examples/",
    "tests/test_fresh_clone.py": "git and the repository's history",
    "tests/test_facts_once.py": "the demo page, pyproject.toml and server internals",
    "tests/test_hooks.py": "server internals",
    "tests/test_jwks_cache.py": "server internals, a test identity provider",
    "tests/test_leftover_processes.py": "checks the suite's own conftest, not the package",
    "tests/test_limiter_memory_bench.py": "bench/ scripts",
    "tests/test_packaging.py": "the repository's files, actionlint and the dev extra",
    "tests/test_plain_install.py": "builds its own venv from the source tree",
    "tests/test_packaging_clean_shell.py": "scripts/test-artifact and the dev extra's build, uv",
    "tests/test_policy.py": "server internals",
    "tests/test_ratelimit.py": "a real redis-server",
    "tests/test_stream_ids.py": "server internals (the policy)",
}
# What a portable test may import besides the standard library: the package, its dependency,
# and the `test` extra.
PORTABLE_IMPORTS = {"zego_token", "tests", "cryptography", "pytest", "hypothesis"}


def portable_tests() -> list[str]:
    lines = (ROOT / "tests" / "portable.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def readme_commands() -> list[list[str]]:
    """The commands in the README's "Two commands" block, as shell words without comments."""
    return [shlex.split(line, comments=True) for line in two_commands_block("README.md")]


def two_commands_block(name: str) -> list[str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    section = re.search(r"^## (?:The )?[Tt]wo commands\n(.*?)(?=^## )", text, re.M | re.S)
    assert section, f"{name} has no 'Two commands' section"
    block = re.search(r"^```(?:sh|bash|console)\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, f"{name}: the 'Two commands' section has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def workflow(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


# -- one version ---------------------------------------------------------------------------


def test_the_version_is_written_once_and_everything_reports_it() -> None:
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "zego_token.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", zego_token.__version__)

    installed = importlib.metadata.version("zego-token")
    assert installed == zego_token.__version__, (
        f"the installed metadata says {installed}: reinstall after changing __version__ "
        "(.venv/bin/pip install -e '.[dev]')"
    )
    done = subprocess.run(
        [str(BIN / "zego-token"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout == f"zego-token {zego_token.__version__}\n"


def test_the_changelog_has_the_version_and_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "Keep a Changelog" in text
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert headings[0] == ("Unreleased", "")
    versions = [version for version, _ in headings[1:]]
    unreleased = text.split("\n## [Unreleased]\n", 1)[1].split("\n## ", 1)[0]
    # The version is released (a dated heading) or named as the one being prepared.
    assert zego_token.__version__ in versions or f" {zego_token.__version__} " in unreleased
    assert all(date for _, date in headings[1:]), "every release heading carries its date"
    for version, _ in headings:
        assert re.search(rf"^\[{re.escape(version)}\]: {HOME}/", text, re.M), version
    # A release is linked to its tag only once the tag exists.
    tags = subprocess.run(["git", "tag"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for tag in re.findall(
        rf"{HOME}/(?:releases/tag/|compare/)([^.\s/]+[^\s/]*?)(?:\.\.\.|\s|$)", text
    ):
        assert tag in tags, f"CHANGELOG links tag {tag}, which does not exist"


# -- license and metadata ------------------------------------------------------------------


def test_the_license_is_the_apache_2_text_and_the_metadata_says_so() -> None:
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    metadata = importlib.metadata.metadata("zego-token")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_classifiers_are_known_to_pypi_and_name_each_supported_python() -> None:
    classifiers: list[str] = PROJECT["classifiers"]
    unknown = [c for c in classifiers if c not in trove_classifiers.classifiers]
    assert not unknown, f"PyPI refuses unknown classifiers: {unknown}"
    assert len(set(classifiers)) == len(classifiers)
    pythons = [
        c.rsplit(" ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert pythons == SUPPORTED
    assert PROJECT["requires-python"] == f">={SUPPORTED[0]}"
    assert "Typing :: Typed" in classifiers and (ROOT / "src/zego_token/py.typed").is_file()
    assert "Operating System :: OS Independent" in classifiers
    # PEP 639: with an SPDX `license`, a "License ::" classifier is an error for setuptools.
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_each_framework_classifier_has_its_integration_extra_and_back() -> None:
    frameworks = {"Django": "django", "FastAPI": "fastapi", "Flask": "flask"}
    claimed = {
        frameworks[c.split(" :: ")[1]]
        for c in PROJECT["classifiers"]
        if c.startswith("Framework :: ") and c.split(" :: ")[1] in frameworks
    }
    extras = set(PROJECT["optional-dependencies"]) & set(frameworks.values())
    assert claimed == extras, (
        f"Framework classifiers {sorted(claimed)} but integration extras {sorted(extras)}: "
        "classify exactly the frameworks an extra supports"
    )


def test_project_urls_point_at_the_public_home() -> None:
    urls: dict[str, str] = PROJECT["urls"]
    assert {"Source", "Documentation", "Issues", "Changelog"} <= set(urls)
    assert all(url.startswith(HOME) for url in urls.values())
    assert urls["Changelog"] == f"{HOME}/blob/main/CHANGELOG.md"
    assert urls["Issues"] == f"{HOME}/issues"
    assert PROJECT["keywords"] and "zegocloud" in PROJECT["keywords"]


# -- the supported Pythons and the portable tests -------------------------------------------


def test_the_supported_pythons_agree_everywhere() -> None:
    script = (ROOT / "scripts/test-pythons").read_text(encoding="utf-8")
    default = re.search(r"\|\| versions=\(([^)]*)\)", script)
    assert default and default.group(1).split() == SUPPORTED
    matrix = workflow("ci.yml")["jobs"]["test"]["strategy"]["matrix"]["python"]
    assert matrix == SUPPORTED
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED


def test_every_top_level_test_file_is_portable_or_says_why_not() -> None:
    portable = portable_tests()
    existing = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").glob("test_*.py")}
    assert len(set(portable)) == len(portable)
    assert set(portable) <= existing, f"listed but missing: {set(portable) - existing}"
    assert not set(portable) & set(NOT_PORTABLE)
    unclassified = existing - set(portable) - set(NOT_PORTABLE)
    assert not unclassified, (
        f"{sorted(unclassified)}: add each to tests/portable.txt (runs on every Python and "
        "against the installed wheel) or to NOT_PORTABLE in tests/test_packaging.py with why"
    )


@pytest.mark.parametrize("name", portable_tests())
def test_a_portable_test_imports_only_the_package_and_the_test_extra(name: str) -> None:
    tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
    imported: set[str] = set()
    local: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
            if node.module.startswith("tests."):
                local.add(node.module.replace(".", "/") + ".py")
    foreign = imported - set(sys.stdlib_module_names) - PORTABLE_IMPORTS
    assert not foreign, f"{name} imports {sorted(foreign)}, which the other Pythons lack"
    shared = {"tests/conftest.py", *portable_tests()}
    for path in local:
        assert path in shared or path.startswith("tests/fixtures/"), f"{name} imports {path}"


# -- the GitHub workflows ---------------------------------------------------------------------


def test_the_workflows_pass_actionlint() -> None:
    actionlint = BIN / "actionlint"
    assert actionlint.is_file(), "actionlint is part of the dev extra: pip install -e '.[dev]'"
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert {"ci.yml", "release.yml"} <= {Path(f).name for f in files}
    done = subprocess.run(
        [str(actionlint), "-color=false", *files],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_exactly_the_readmes_test_command_on_every_push_and_pull_request() -> None:
    commands = readme_commands()
    assert len(commands) == 2, "the README's 'Two commands' block holds two commands"
    test_command = commands[1]

    ci = workflow("ci.yml")
    assert {"pull_request", "push"} <= set(ci["on"])
    steps = [step for job in ci["jobs"].values() for step in job["steps"]]
    runs = [shlex.split(step["run"], comments=True) for step in steps if "run" in step]
    assert runs == [test_command], f"ci.yml runs {runs}, the README says {test_command}"
    # The other CI (.ci/run) runs the same command.
    ci_run = (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
    assert shlex.split(ci_run[-1]) == ["exec", *test_command]


def test_contributing_quotes_the_readmes_two_commands() -> None:
    assert two_commands_block("CONTRIBUTING.md") == two_commands_block("README.md")


def test_release_publishes_on_version_tags_through_trusted_publishing_only() -> None:
    text = (WORKFLOWS / "release.yml").read_text(encoding="utf-8")
    release = workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {}
    jobs = release["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in workflow("ci.yml")["on"]
    assert jobs["build"]["needs"] == "test" and jobs["publish"]["needs"] == "build"
    publish = jobs["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    uses = [step.get("uses", "") for step in publish["steps"]]
    assert "pypa/gh-action-pypi-publish@release/v1" in uses
    # No token: trusted publishing needs none, so none may be passed.
    assert "secrets." not in text and "password" not in text and "api-token" not in text
    # Only the publish job may mint an OIDC token.
    others = [job for name, job in jobs.items() if name != "publish"]
    assert all("id-token" not in job.get("permissions", {}) for job in others)
