"""Shared fixtures: the official generators' vectors (tests/vectors, read-only), and a real
Redis server per test module for the rate-limit tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.redis_server import redis_server

ROOT = Path(__file__).resolve().parent.parent
VECTORS_DIR = ROOT / "tests" / "vectors"
SECRET = "0123456789abcdef0123456789abcdef"
# ZEGO_TEST_LONG=1: the long variants of the load, soak and schemathesis tests (scripts/test
# then also fuzzes 60 s per target). The default run keeps every kind of test, shorter.
LONG = os.environ.get("ZEGO_TEST_LONG", "") == "1"


def load_vectors(name: str) -> list[dict[str, Any]]:
    path = VECTORS_DIR / name
    if not path.is_file():
        pytest.fail(f"test vectors missing: {path} (they are part of the repository)")
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
