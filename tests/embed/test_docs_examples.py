"""The Python in the README and docs/, run as written.

Every ```python block of README.md and docs/*.md runs: the blocks of one file in order, in one
namespace, as a reader pasting them into one session would (README's later blocks use the
``issuer`` of its first); a block of ``>>>`` lines runs as a doctest and must print what it
shows. Blocks with a ``title="examples/..."`` are files of examples/, run for real by
tests/embed/test_examples.py. The FastAPI and Flask examples also run here, in-process.
"""

from __future__ import annotations

import doctest
import re
import types
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.embed.sites import APP_ID, SECRET
from zego_token import decode_token04

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```$", re.S | re.M)


def python_blocks(path: Path) -> list[str]:
    return [code for info, code in BLOCK.findall(path.read_text("utf-8")) if "title=" not in info]


def test_the_docs_have_python_blocks_to_run() -> None:
    counts = {path.name: len(python_blocks(path)) for path in DOCS}
    assert counts["README.md"] >= 4 and counts["embed.md"] >= 1, counts


@pytest.mark.parametrize("path", [p for p in DOCS if python_blocks(p)], ids=lambda p: p.name)
def test_every_python_block_runs_as_written(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": f"doc_{path.stem}"}
    for index, code in enumerate(python_blocks(path)):
        where = f"{path.relative_to(ROOT)} python block {index + 1}"
        if code.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(code, namespace, where, str(path), 0)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            runner.run(test, out=print)
            assert runner.failures == 0, f"{where}:\n{capsys.readouterr().out}"
        else:
            exec(compile(code, where, "exec"), namespace)


def load_example(framework: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch.setenv("ZEGO_APP_ID", str(APP_ID))
    monkeypatch.setenv("ZEGO_SERVER_SECRET", SECRET)
    monkeypatch.setenv("SESSION_KEY", "tests-only-session-key")
    path = ROOT / "examples" / framework / "app.py"
    module = types.ModuleType(f"example_{framework}")
    exec(compile(path.read_text("utf-8"), str(path), "exec"), module.__dict__)
    return module


def test_the_fastapi_example_serves_zegos_guide_request_to_the_signed_in_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(load_example("fastapi", monkeypatch).app) as client:
        assert client.get("/api/zego/token?userID=alice&expired_ts=86400").status_code == 401
        assert client.post("/login", content=b"").status_code == 400
        assert client.post("/login", json={"user": "alice", "password": "nope"}).status_code == 401
        assert client.post("/login", json={"user": "alice", "password": "wonderland"}).is_success
        answer = client.get("/api/zego/token?userID=alice&expired_ts=86400")
        assert answer.status_code == 200, answer.text
        claims = decode_token04(answer.json()["token"], SECRET, app_id=APP_ID, user_id="alice")
        assert claims.expire - claims.ctime == 86400
        assert client.post("/login", json={"user": "bob", "password": "builder"}).is_success
        bob = client.get("/api/zego/token?userID=bob&roomID=class-1&publish=1")
        assert bob.json()["error"]["code"] == "publish_not_allowed"


def test_the_flask_example_serves_zegos_guide_request_to_the_signed_in_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = load_example("flask", monkeypatch).app.test_client()
    assert client.get("/api/zego/token?userID=alice&expired_ts=86400").status_code == 401
    assert client.post("/login", data=b"").status_code == 400
    login = client.post("/login", json={"user": "alice", "password": "wonderland"})
    assert login.status_code == 200
    answer = client.get("/api/zego/token?userID=alice&expired_ts=86400")
    assert answer.status_code == 200, answer.get_data()
    claims = decode_token04(answer.get_json()["token"], SECRET, app_id=APP_ID, user_id="alice")
    assert claims.expire - claims.ctime == 86400
    other = client.get("/api/zego/token?userID=bob")
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "user_id_not_allowed"
