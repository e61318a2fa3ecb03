"""pipeline/errors.py is the one list of error codes: the source raises exactly its codes, HttpError
refuses any other, and /openapi.json and docs/errors.md are generated from it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import API_KEY_SHA256, SECRET, RunningServer, StartServer, bearer
from zego_token.pipeline.errors import ERROR_CODES, HttpError, markdown
from zego_token.server.config import Overrides, load_settings
from zego_token.server.openapi import build_openapi

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "zego_token"
ENV = {"ZEGO_APP_ID": "1234567", "ZEGO_SERVER_SECRET": SECRET}

# Helpers that build an HttpError from a code they are given: (name, index of the code argument,
# its default). A call to HttpError with a computed code anywhere else fails the scan below, so
# a new helper cannot hide its codes from it.
HELPERS = {
    "_deny": (0, None),
    "_refuse": (0, None),
    "refuse": (0, None),
    "bad": (1, "invalid_parameter"),
}
COMPUTED_CODE_ALLOWED_IN = {"_deny", "_refuse", "refuse", "bad", "authenticate"}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def raised_codes() -> tuple[dict[str, list[str]], list[str]]:
    """Every code literal the source can answer with -> where; and HttpError calls whose code
    is computed outside a known helper."""
    found: dict[str, list[str]] = {}
    computed: list[str] = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        functions = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        owner = {id(inner): function.name for function in functions for inner in ast.walk(function)}
        where = str(path.relative_to(ROOT))

        def note(code: str | None, node: ast.AST, where: str = where) -> None:
            if code is not None:
                found.setdefault(code, []).append(f"{where}:{getattr(node, 'lineno', '?')}")

        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _name(node.func)
                keywords = {k.arg: k.value for k in node.keywords}
                if name == "HttpError":
                    argument = node.args[1] if len(node.args) > 1 else keywords.get("code")
                    if _literal(argument) is not None:
                        note(_literal(argument), node)
                    elif owner.get(id(node)) not in COMPUTED_CODE_ALLOWED_IN:
                        computed.append(f"{where}:{node.lineno}")
                elif name in HELPERS:
                    index, default = HELPERS[name]
                    argument = node.args[index] if len(node.args) > index else keywords.get("code")
                    note(_literal(argument) if argument is not None else default, node)
            elif isinstance(node, ast.Assign) and any(_name(t) == "code" for t in node.targets):
                note(_literal(node.value), node)  # code = "missing_credentials" (auth.py)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if key is not None and _literal(key) == "code":
                        note(_literal(value), node)  # the prebuilt 500 body (app.py)
    return found, computed


def test_every_code_the_source_raises_is_in_the_table_and_back() -> None:
    found, computed = raised_codes()
    assert computed == [], f"HttpError with a computed code outside a known helper: {computed}"
    missing = {code: where for code, where in found.items() if code not in ERROR_CODES}
    assert missing == {}, f"add these to src/zego_token/pipeline/errors.py: {missing}"
    unused = set(ERROR_CODES) - set(found)
    assert unused == set(), f"codes in the table that nothing raises: {unused}"
    # the three: once listed by hand and missing from /openapi.json
    assert {"rate_limit_unavailable", "jwks_unavailable", "hook_error", "hook_denied"} <= set(found)


def test_http_error_refuses_a_code_outside_the_table() -> None:
    with pytest.raises(ValueError, match=r"not in zego_token\.pipeline\.errors"):
        HttpError(400, "no_such_code", "x")
    with pytest.raises(ValueError, match="is 429 in the table"):
        HttpError(400, "rate_limited", "x")
    assert HttpError(429, "rate_limited", "x").code == "rate_limited"


def test_docs_errors_md_is_the_generated_table() -> None:
    doc = (ROOT / "docs" / "errors.md").read_text()
    assert doc == markdown(), "regenerate: python -m zego_token.pipeline.errors > docs/errors.md"
    for code in ERROR_CODES:
        assert f"`{code}`" in doc


def _codes_by_status(operation: dict[str, object]) -> dict[str, set[str]]:
    result = {}
    for status, response in operation["responses"].items():  # type: ignore[attr-defined]
        if status.startswith(("4", "5")):
            schema = response["content"]["application/json"]["schema"]
            result[status] = set(
                schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
            )
    return result


def test_openapi_documents_the_codes_its_configuration_can_raise(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[auth]\nmodes = ["jwt", "api_key"]\n'
        f'[[auth.api_keys]]\nname = "b"\nsha256 = "{API_KEY_SHA256}"\n'
        '[auth.jwt]\nalgorithms = ["RS256"]\nissuer = "https://id.example"\n'
        'audience = ["zego"]\njwks_url = "https://id.example/jwks.json"\n'
        '[hook]\nfunction = "json:dumps"\n'
        '[rate_limit]\nper_ip = 5\nredis_url = "redis://127.0.0.1:1/0"\n'
    )
    settings = load_settings(Overrides(config_file=str(config)), ENV)
    document = build_openapi(settings)
    get = _codes_by_status(document["paths"]["/api/token"]["get"])
    assert {"rate_limit_unavailable", "jwks_unavailable", "hook_busy"} == get["503"]
    assert {"hook_denied", "hook_error", "stream_id_ambiguous"} <= get["403"]
    assert {"invalid_api_key", "token_expired", "missing_credentials"} <= get["401"]
    assert get["429"] == {"rate_limited"}
    assert "unknown_parameter" in get["400"] and "invalid_json" not in get["400"]
    responses = document["paths"]["/api/token"]["get"]["responses"]
    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]
    post = _codes_by_status(document["paths"]["/api/token"]["post"])
    assert {"invalid_json", "unknown_parameter"} <= post["400"]
    assert post["413"] == {"body_too_large"} and post["408"] == {"request_timeout"}
    ready = _codes_by_status(document["paths"]["/readyz"]["get"])
    assert ready == {"503": {"not_ready"}}
    assert "Retry-After" not in document["paths"]["/readyz"]["get"]["responses"]["503"]
    # Every code of the token pipeline that this configuration makes possible is documented.
    documented = set().union(*get.values(), *post.values())
    for entry in ERROR_CODES.values():
        if {"params", "auth", "decide", "limit"} & set(entry.steps) and entry.needs != "demo":
            assert entry.code in documented, entry.code
    schema = document["components"]["schemas"]["Error"]
    assert schema["properties"]["error"]["properties"]["code"]["enum"] == sorted(ERROR_CODES)


def test_a_bare_server_documents_no_codes_it_cannot_raise(tmp_path: Path) -> None:
    document = build_openapi(load_settings(Overrides(), ENV))
    get = _codes_by_status(document["paths"]["/api/token"]["get"])
    assert "401" not in get and "429" not in get and "503" not in get
    assert "hook_error" not in get["403"]


@pytest.fixture(scope="module")
def keyed(start_module_server: StartServer) -> RunningServer:
    return start_module_server(
        f'[[auth.api_keys]]\nname = "b"\nsha256 = "{API_KEY_SHA256}"\n'
        '[rate_limit]\nper_ip = 1000\n[policy]\nstream_id_template = "{room_id}_{user_id}_*"\n'
    )


@pytest.mark.parametrize(
    ("method", "query", "body", "headers", "expected"),
    [
        ("get", "userID=a&room_id=r", None, bearer(), (400, "unknown_parameter")),
        ("get", "userID=a", None, {}, (401, "missing_credentials")),
        (
            "get",
            "userID=a",
            None,
            bearer("zt_wrong_key_0000000000000000"),
            (401, "invalid_api_key"),
        ),
        (
            "get",
            "userID=a_b&roomID=r&publish=1&streamID=r_a_b_x",
            None,
            bearer(),
            (403, "stream_id_ambiguous"),
        ),
        ("get", "userID=a&expired_ts=999999999", None, bearer(), (422, "ttl_out_of_range")),
        ("post", "", b"{", bearer(), (400, "invalid_json")),
    ],
)
def test_real_answers_are_documented_for_their_operation(
    keyed: RunningServer,
    method: str,
    query: str,
    body: bytes | None,
    headers: dict[str, str],
    expected: tuple[int, str],
) -> None:
    document = httpx.get(f"{keyed}/openapi.json").json()
    documented = _codes_by_status(document["paths"]["/api/token"][method])
    if method == "get":
        response = httpx.get(f"{keyed}/api/token?{query}", headers=headers)
    else:
        response = httpx.post(
            f"{keyed}/api/token",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
    answer = (response.status_code, response.json()["error"]["code"])
    assert answer == expected
    assert answer[1] in documented[str(answer[0])]


# The server's documents (docs/cli.md has the CLI's own codes, another namespace).
DOCS = [*sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md"), ROOT / "README.md"]
STATUS_AND_CODE = re.compile(r"\b([1-5]\d\d)`? `?([a-z]+(?:_[a-z0-9]+)+)`")


def test_codes_named_in_the_docs_exist_with_that_status() -> None:
    checked = 0
    for path in DOCS:
        text = path.read_text()
        # "403 publish_not_allowed", "`503 jwks_unavailable`", "400 `unknown_parameter`"
        for match in STATUS_AND_CODE.finditer(text):
            status, code = int(match[1]), match[2]
            assert code in ERROR_CODES, f"{path.name}: {code} is not an error code"
            assert ERROR_CODES[code].status == status, f"{path.name}: {code} is not {status}"
            checked += 1
        # tables whose first column is "code" or "code (403)"
        status_of_table: int | None = None
        in_table = False
        for line in text.splitlines():
            header = re.match(r"\| code(?: \((\d{3})\))? \|", line)
            if header:
                in_table, status_of_table = True, int(header[1]) if header[1] else None
                continue
            if not line.startswith("|"):
                in_table = False
                continue
            if in_table and not line.startswith("|---"):
                first = line.split("|")[1]
                for code in re.findall(r"`([a-z_0-9]+)`", first):
                    assert code in ERROR_CODES, f"{path.name}: {code} is not an error code"
                    if status_of_table is not None:
                        assert ERROR_CODES[code].status == status_of_table, (path.name, code)
                    checked += 1
    assert checked > 30  # the docs do name codes: the scan is not looking at nothing
