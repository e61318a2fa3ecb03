"""The examples in examples/, run exactly as docs/embed.md says, as a newcomer would.

docs/embed.md shows every file of examples/ (checked here to be the same text). Each example is
then copied into an empty folder; the shell commands of its section of the doc are run there in
a clean environment (a fresh venv, the package installed from a copy of this checkout where the
doc says ``/path/to/zego-token``, the variables of ``.env.example`` filled in); the last command
starts the app on a free port; the test signs in through the example's own login and sends
ZEGO's guide request unchanged (no room), then a room-restricted request as a second step.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.fixtures.processes import end_group, spawn
from zego_token import decode_token04

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "embed.md"
EXAMPLES = ROOT / "examples"
FRAMEWORKS = {"fastapi": "FastAPI", "flask": "Flask", "django": "Django"}
PLACEHOLDER_CLONE = "/path/to/zego-token"
APP_ID = 1234567890
SECRET = "5f2a9c1e7b3d4a6f8e0c2b4d6a8f0e1c"
# What a newcomer's shell has: no virtualenv, no PYTHONPATH, no variables of this test run.
CLEAN_ENV = {
    "HOME": os.environ.get("HOME", "/root"),
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
}
# Only the files a build of the package reads: every example builds its own copy in-tree.
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "src")


def section(name: str) -> str:
    text = DOC.read_text("utf-8")
    return text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


def shown_files() -> dict[str, str]:
    """The example files the doc shows: path -> text."""
    blocks = re.findall(r'```\w+ title="([^"]+)"\n(.*?)```\n', DOC.read_text("utf-8"), re.S)
    return dict(blocks)


def example_files() -> list[Path]:
    return sorted(
        path
        for path in EXAMPLES.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def commands(framework: str) -> list[str]:
    """The shell lines of the framework's section, comments removed."""
    blocks = re.findall(r"```sh\n(.*?)```", section(FRAMEWORKS[framework]), re.S)
    assert len(blocks) == 1, f"docs/embed.md ## {FRAMEWORKS[framework]}: one sh block expected"
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in blocks[0].splitlines()]
    return [line for line in lines if line]


def variables_read(framework: str) -> set[str]:
    names: set[str] = set()
    for path in (EXAMPLES / framework).rglob("*.py"):
        names |= set(re.findall(r'os\.environ\["(\w+)"\]', path.read_text("utf-8")))
    return names


def env_example_names(framework: str) -> list[str]:
    text = (EXAMPLES / framework / ".env.example").read_text("utf-8")
    return re.findall(r"^(\w+)=", text, re.M)


# -- the doc and the files agree -----------------------------------------------------------------


def test_the_doc_shows_every_example_file_exactly_as_it_is() -> None:
    shown = shown_files()
    on_disk = {str(path.relative_to(ROOT)): path.read_text("utf-8") for path in example_files()}
    assert sorted(shown) == sorted(on_disk)
    for path, text in on_disk.items():
        assert shown[path] == text, f"docs/embed.md shows another {path}"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_env_example_names_every_variable_its_example_reads(framework: str) -> None:
    names = env_example_names(framework)
    assert len(names) == len(set(names))
    assert set(names) == variables_read(framework)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_section_installs_from_a_clone_and_starts_the_app(framework: str) -> None:
    lines = commands(framework)
    assert lines[0] == f"cd examples/{framework}"
    assert lines[1] == "python3 -m venv .venv"
    assert lines[2].startswith(f'.venv/bin/pip install "{PLACEHOLDER_CLONE}[{framework}]"')
    assert "cp .env.example .env" in lines and "set -a; . ./.env; set +a" in lines


# -- each example, run as written ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def shell(script: str, cwd: Path, timeout: float) -> None:
    done = subprocess.run(
        ["bash", "-euc", script],
        cwd=cwd,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"$ {script}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


def fill_env(folder: Path, framework: str) -> None:
    values = {
        "ZEGO_APP_ID": str(APP_ID),
        "ZEGO_SERVER_SECRET": SECRET,
        "SESSION_KEY": "tests-only-session-key-0123456789",
        "DJANGO_SECRET_KEY": "tests-only-django-key-0123456789-0123456789",
    }
    env_file = folder / ".env"
    text = env_file.read_text("utf-8")
    for name in env_example_names(framework):
        text = re.sub(rf"^{name}=", f"{name}={values[name]}", text, flags=re.M)
    env_file.write_text(text, "utf-8")


@dataclass
class Installed:
    """An example installed as its doc says, in its own folder, ready to start."""

    framework: str
    folder: Path
    start: list[str]  # the doc's last lines: load .env, start the app
    seconds: float


def install(framework: str, work: Path) -> Installed:
    started = time.monotonic()
    clone = work / "clone"
    clone.mkdir(parents=True)
    for name in PACKAGE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, clone / name)
    folder = work / "app"  # an empty folder holding only the example's files
    shutil.copytree(EXAMPLES / framework, folder, ignore=shutil.ignore_patterns("__pycache__"))
    lines = commands(framework)[1:]  # without the `cd` into the clone's examples/
    cut = lines.index("cp .env.example .env") + 1
    shell("\n".join(lines[:cut]).replace(PLACEHOLDER_CLONE, str(clone)), folder, timeout=600)
    fill_env(folder, framework)
    # Every line once, in order: the one-time steps (Django's migrate, createsuperuser) here,
    # the environment and the start command each time the app is started.
    load_env, *setup, start = lines[cut:]
    if setup:
        shell("\n".join([load_env, *setup]), folder, timeout=300)
    return Installed(framework, folder, [load_env, start], time.monotonic() - started)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Installed]:
    """All three examples installed at once (each mostly waits on pip and its cache)."""
    work = tmp_path_factory.mktemp("examples")
    results: dict[str, Installed] = {}
    errors: dict[str, BaseException] = {}

    def one(framework: str) -> None:
        try:
            results[framework] = install(framework, work / framework)
        except BaseException as error:  # reported below, in the test's thread
            errors[framework] = error

    threads = [threading.Thread(target=one, args=(name,)) for name in FRAMEWORKS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for framework, seconds in sorted((k, v.seconds) for k, v in results.items()):
        print(f"examples/{framework}: installed in {seconds:.1f} s")
    if errors:
        framework, error = next(iter(errors.items()))
        raise AssertionError(f"examples/{framework} did not install as documented") from error
    return results


@pytest.fixture
def started(
    installed: dict[str, Installed], request: pytest.FixtureRequest
) -> Iterator[tuple[str, str]]:
    """The example named by the test's parameter, started as its doc says: (framework, URL)."""
    framework: str = request.param
    example = installed[framework]
    port = free_port()
    *prepare, start = example.start
    start = re.sub(r"\b(8000|5000)\b", str(port), start)
    assert str(port) in start, start
    script = "\n".join([*prepare, f"exec {start}"])
    log = example.folder / "server.log"
    with log.open("wb") as output:
        process = spawn(
            ["bash", "-euc", script],
            cwd=example.folder,
            env=CLEAN_ENV,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"examples/{framework} exited:\n{log.read_text()}")
            try:
                httpx.get(url + "/api/zego/token", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"examples/{framework} did not answer:\n{log.read_text()}")
                time.sleep(0.2)
        yield framework, url
    finally:
        end_group(process)


def sign_in(client: httpx.Client, framework: str, user: str, password: str) -> httpx.Response:
    if framework != "django":
        return client.post("/login", json={"user": user, "password": password})
    form = client.get("/accounts/login/")
    assert form.status_code == 200, form.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    return client.post(
        "/accounts/login/",
        data={"username": user, "password": password, "csrfmiddlewaretoken": csrf.group(1)},
        headers={"Referer": f"{client.base_url}/accounts/login/"},
    )


def make_bob(framework: str, installed: dict[str, Installed]) -> None:
    """bob, who may not publish: in the FastAPI and Flask examples' user table already; a
    plain (not staff) user created with Django's own command in the Django one."""
    if framework == "django":
        folder = installed["django"].folder
        shell(
            "set -a; . ./.env; set +a\n"
            "DJANGO_SUPERUSER_PASSWORD=builder .venv/bin/python manage.py shell -c "
            "\"from django.contrib.auth.models import User; User.objects.filter(username='bob')"
            ".exists() or User.objects.create_user('bob', password='builder')\"",
            folder,
            timeout=120,
        )


@pytest.mark.parametrize("started", list(FRAMEWORKS), indirect=True)
def test_the_example_answers_zegos_guide_request_unchanged_then_a_room_restricted_one(
    started: tuple[str, str], installed: dict[str, Installed]
) -> None:
    framework, url = started
    make_bob(framework, installed)
    with httpx.Client(base_url=url, timeout=10) as client:
        guide = "/api/zego/token?userID=alice&expired_ts=86400"
        assert client.get(guide).status_code == 401  # not signed in yet
        signed_in = sign_in(client, framework, "alice", "wonderland")
        assert signed_in.status_code in (200, 302), signed_in.text

        # Step 1: ZEGO's guide request, unchanged: no room.
        answer = client.get(guide)
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        claims = decode_token04(answer.json()["token"], SECRET, app_id=APP_ID, user_id="alice")
        assert claims.expire - claims.ctime == 86400
        assert answer.json()["expire"] == claims.expire
        assert claims.payload == ""
        other = client.get("/api/zego/token?userID=bob&expired_ts=86400")
        assert other.status_code == 403, other.text
        assert other.json()["error"]["code"] == "user_id_not_allowed"

        # Step 2: a room-restricted token (the guide's URL plus roomID), publishing allowed.
        room = client.get("/api/zego/token?userID=alice&roomID=class-1&publish=1&expired_ts=3600")
        assert room.status_code == 200, room.text
        strict = decode_token04(room.json()["token"], SECRET, app_id=APP_ID, user_id="alice")
        assert strict.expire - strict.ctime == 3600
        assert strict.privileges is not None
        assert strict.privileges.room_id == "class-1" and strict.privileges.publish

    with httpx.Client(base_url=url, timeout=10) as client:
        assert sign_in(client, framework, "bob", "builder").status_code in (200, 302)
        bob = client.get("/api/zego/token?userID=bob&roomID=class-1&publish=1")
        assert bob.status_code == 403, bob.text
        assert bob.json()["error"]["code"] == "publish_not_allowed"
        watch = client.get("/api/zego/token?userID=bob&roomID=class-1&expired_ts=86400")
        assert watch.status_code == 200, watch.text


@pytest.mark.parametrize("started", ["fastapi", "flask"], indirect=True)
def test_the_example_login_answers_bad_input_with_a_json_4xx(started: tuple[str, str]) -> None:
    _, url = started
    bad = [
        ({"content": b""}, 400),
        ({"content": b"user=alice", "headers": {"content-type": "text/plain"}}, 400),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ({"json": ["alice", "wonderland"]}, 400),
        ({"json": {"user": "alice"}}, 401),
        ({"json": {"user": ["alice"], "password": "wonderland"}}, 401),
        ({"json": {"user": "alice", "password": "nope"}}, 401),
    ]
    with httpx.Client(base_url=url, timeout=10) as client:
        for options, status in bad:
            answer = client.post("/login", **options)  # type: ignore[arg-type]
            assert answer.status_code == status, (options, answer.text)
            assert answer.headers["content-type"].startswith("application/json")
            assert set(answer.json()["error"]) == {"code", "message"}


@pytest.mark.parametrize("started", ["django"], indirect=True)
def test_the_django_example_login_refuses_bad_input_without_a_500(started: tuple[str, str]) -> None:
    _, url = started
    with httpx.Client(base_url=url, timeout=10) as client:
        # Django's LoginView: no CSRF token is 403; a wrong password shows the form again.
        assert client.post("/accounts/login/", data={"username": "alice"}).status_code == 403
        wrong = sign_in(client, "django", "alice", "nope")
        assert wrong.status_code == 200 and "csrfmiddlewaretoken" in wrong.text
        assert client.get("/api/zego/token?userID=alice").status_code == 401
