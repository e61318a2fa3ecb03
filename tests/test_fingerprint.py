"""Naming the generator behind a token: every official vector, the traits one by one, and the
C++ generator's nonce reproduced from glibc's rand()."""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import json
import os
import platform
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zego_token import generate_token04
from zego_token.cli.main import main
from zego_token.diagnose import diagnose
from zego_token.fingerprint import fingerprint, fingerprint_claims
from zego_token.glibc_rand import cpp_nonce_and_iv, glibc_rand
from zego_token.token04 import encode_token04, read_claims_text

VECTORS = Path(__file__).parent / "vectors"
OFFICIAL = json.loads((VECTORS / "token04-official.json").read_text()) + json.loads(
    (VECTORS / "token04-official-decode-only.json").read_text()
)
SECRET = "fa94dd0f974cf2e293728a526b028271"
CTIME = 1764460800


def generator_of(source: str) -> str:
    return source.split("-")[1]  # "official-go-cbc" -> "go"


def seal(plaintext: str, *, mode: str, iv: bytes, expire: int, secret: str = SECRET) -> str:
    """A token around exactly this plaintext: what another generator's JSON looks like."""
    key = secret.encode()
    data = plaintext.encode()
    if mode == "gcm":
        sealed = AESGCM(key).encrypt(iv, data, None)
        tail = b"\x01"
    else:
        pad = 16 - len(data) % 16
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        sealed = encryptor.update(data + bytes((pad,)) * pad) + encryptor.finalize()
        tail = b""
    body = struct.pack(">qH", expire, len(iv)) + iv + struct.pack(">H", len(sealed))
    return "04" + base64.b64encode(body + sealed + tail).decode()


def claims_json(order: tuple[str, ...], **values: Any) -> str:
    return "{" + ",".join(f'"{k}":{json.dumps(values[k])}' for k in order) + "}"


def base36(size: int) -> bytes:
    return bytes(random.choice(b"0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(size))


# -- glibc's rand() ---------------------------------------------------------------------------


def glibc() -> Any:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("the C library here is not glibc")
    return ctypes.CDLL(ctypes.util.find_library("c"))


@pytest.mark.parametrize("seed", [0, 1, 2, 1796007594, 2**31 - 1, 2**31, 2**31 + 5, 2**32 - 1])
def test_rand_matches_the_c_library_for_edge_seeds(seed: int) -> None:
    libc = glibc()
    libc.srand(ctypes.c_uint(seed))
    assert [libc.rand() for _ in range(40)] == list(glibc_rand(seed, 40))


def test_rand_matches_the_c_library_for_random_seeds() -> None:
    libc = glibc()
    for seed in random.Random(7).sample(range(2**32), 300):
        libc.srand(ctypes.c_uint(seed))
        assert [libc.rand() for _ in range(16)] == list(glibc_rand(seed, 16)), seed


def test_the_cpp_vectors_are_the_first_rand_values_after_srand_ctime() -> None:
    cpp = [v for v in OFFICIAL if v["source"] == "official-cpp-cbc"]
    assert len(cpp) == 6
    for vector in cpp:
        nonce, iv = cpp_nonce_and_iv(vector["ctime"], 16)
        assert (nonce, iv.hex()) == (vector["nonce"], vector["iv_hex"])


# -- every official vector --------------------------------------------------------------------


@pytest.mark.parametrize("vector", OFFICIAL, ids=lambda v: f"{v['source']}-{v['user_id']}")
def test_every_official_vector_keeps_its_generator_among_the_candidates(
    vector: dict[str, Any],
) -> None:
    generator = generator_of(vector["source"])
    with_secret = fingerprint(vector["token"], vector["secret"])
    header_only = fingerprint(vector["token"])
    assert generator in with_secret.candidates
    assert generator in header_only.candidates
    assert with_secret.from_claims and not header_only.from_claims
    assert set(with_secret.candidates) <= set(header_only.candidates)
    assert "zego-token" not in with_secret.candidates  # the project's tokens look otherwise
    assert with_secret.evidence and header_only.evidence


@pytest.mark.parametrize("generator", ["go", "java", "cpp"])
def test_go_java_and_cpp_vectors_are_named_alone(generator: str) -> None:
    for vector in OFFICIAL:
        if generator_of(vector["source"]) == generator:
            found = fingerprint(vector["token"], vector["secret"])
            assert found.candidates == (generator,)
            assert found.generator == generator


def test_the_cpp_vectors_are_predictable_and_weak() -> None:
    vector = next(v for v in OFFICIAL if v["source"] == "official-cpp-cbc")
    found = fingerprint(vector["token"], vector["secret"])
    assert found.predictable and found.weak_randomness
    assert found.label() == "C++ (official generator, CBC): nonce predictable from its ctime"
    assert any("predictable from the token's own ctime" in line for line in found.evidence)


def test_without_the_secret_cpp_is_recognised_when_its_ttl_is_a_usual_one() -> None:
    by_ttl = {v["expire"] - v["ctime"]: v for v in OFFICIAL if v["source"] == "official-cpp-cbc"}
    assert fingerprint(by_ttl[3600]["token"]).candidates == ("cpp",)
    # A lifetime of one second is nobody's habit: C++ stays one of several candidates.
    assert len(fingerprint(by_ttl[1]["token"]).candidates) > 1


def test_header_only_candidates_follow_the_iv_alphabet() -> None:
    by_source = {v["source"]: v for v in OFFICIAL}
    java = fingerprint(by_source["official-java-cbc"]["token"])
    assert java.candidates == ("java", "zego-token")  # random bytes in a CBC token
    python_cbc = fingerprint(by_source["official-python-cbc"]["token"])
    assert {"python", "node", "php", "cpp", "go", "dotnet"} <= set(python_cbc.candidates)
    assert python_cbc.label().endswith("(from the header alone: the ServerSecret narrows this)")
    python_gcm = fingerprint(by_source["official-python-gcm"]["token"])
    assert python_gcm.candidates == ("python", "php", "cpp")
    assert python_gcm.weak_randomness


def test_read_claims_text_gives_back_each_generators_exact_json() -> None:
    for vector in OFFICIAL:
        mode, text = read_claims_text(vector["token"], vector["secret"])
        assert (mode, text) == (vector["mode"], vector["plaintext"])


# -- this project, and generators without official vectors here --------------------------------


@pytest.mark.parametrize("mode", ["gcm", "cbc"])
def test_this_projects_tokens_include_zego_token_and_are_not_weak(mode: str) -> None:
    for _ in range(50):
        token = generate_token04(1234567890, "host_42", SECRET, 3600, mode=mode)  # type: ignore[arg-type]
        found = fingerprint(token, SECRET)
        assert "zego-token" in found.candidates
        assert not found.weak_randomness and not found.predictable
    if mode == "cbc":
        assert found.candidates == ("zego-token",)  # random bytes and Python's key order


def test_dotnet_json_is_named_alone() -> None:
    order = ("app_id", "user_id", "payload", "ctime", "expire", "nonce")
    text = claims_json(
        order, app_id=1, user_id="demo", payload="", ctime=CTIME, expire=CTIME + 3600,
        nonce=123456,
    )  # fmt: skip
    cbc = fingerprint(seal(text, mode="cbc", iv=base36(16), expire=CTIME + 3600), SECRET)
    assert cbc.candidates == ("dotnet",) and cbc.weak_randomness
    assert cbc.label() == ".NET (official generator, CBC)"
    gcm = fingerprint(seal(text, mode="gcm", iv=os.urandom(12), expire=CTIME + 3600), SECRET)
    assert gcm.candidates == ("dotnet",) and not gcm.weak_randomness


def test_go_gcm_json_is_named_alone() -> None:
    order = ("app_id", "user_id", "ctime", "expire", "nonce", "payload")
    text = claims_json(
        order, app_id=1, user_id="a<b", ctime=CTIME, expire=CTIME + 60, nonce=5, payload=""
    ).replace("<", "\\u003c")
    found = fingerprint(seal(text, mode="gcm", iv=os.urandom(12), expire=CTIME + 60), SECRET)
    assert found.candidates == ("go",)
    assert found.label() == "Go (official generator, GCM)"
    assert any("Go's struct order" in line for line in found.evidence)


def test_cpp_gcm_nonce_is_the_first_twelve_rand_values() -> None:
    nonce, iv = cpp_nonce_and_iv(CTIME, 12)
    token = encode_token04(
        app_id=1, user_id="demo", secret=SECRET, ctime=CTIME, expire=CTIME + 3600,
        nonce=nonce, iv=iv, mode="gcm",
    )  # fmt: skip
    found = fingerprint(token, SECRET)
    assert found.candidates == ("cpp",) and found.predictable
    assert fingerprint(token).candidates == ("cpp",)  # a one-hour lifetime: found without it


def test_a_rand_like_iv_from_another_second_is_not_cpp() -> None:
    nonce, iv = cpp_nonce_and_iv(CTIME - 100, 12)
    token = encode_token04(
        app_id=1, user_id="demo", secret=SECRET, ctime=CTIME, expire=CTIME + 3600,
        nonce=nonce, iv=iv, mode="gcm",
    )  # fmt: skip
    found = fingerprint(token, SECRET)
    assert "cpp" not in found.candidates
    assert any("not C++" in line for line in found.evidence)


def test_php_escaping_tells_php_from_python() -> None:
    order = ("app_id", "user_id", "nonce", "ctime", "expire", "payload")
    text = '{"app_id":1,"user_id":"caf\\u00e9\\/1","nonce":7,"ctime":%d,"expire":%d,"payload":""}'
    text %= (CTIME, CTIME + 60)
    assert tuple(json.loads(text)) == order
    found = fingerprint(seal(text, mode="cbc", iv=base36(16), expire=CTIME + 60), SECRET)
    assert found.candidates == ("php",)
    python_style = fingerprint_claims("cbc", b"0123456789abcdef", text.replace("\\/", "/"))
    assert "python" not in python_style.candidates  # \u00e9 escaped: not ensure_ascii=False


def test_traits_no_generator_has_leave_no_candidate() -> None:
    spaced = '{"app_id": 1, "user_id": "a", "nonce": 1, "ctime": 1, "expire": 2, "payload": ""}'
    found = fingerprint_claims("gcm", os.urandom(12), spaced)
    assert found.candidates == ()
    assert found.label() == "unknown: no known generator writes tokens like this"
    uikit = '{"app_id":1,"user_id":"a","nonce":1,"ctime":1,"expire":2}'
    found = fingerprint_claims("cbc", base36(16), uikit)
    assert found.candidates == ()
    assert any("generateKitTokenForTest" in line for line in found.evidence)
    negative = '{"app_id":1,"user_id":"a","nonce":-5,"ctime":1,"expire":2,"payload":""}'
    assert fingerprint_claims("cbc", base36(16), negative).candidates == ()


# -- diagnose and inspect ---------------------------------------------------------------------


def test_diagnose_exposes_the_typed_fingerprint_and_inspect_json_shows_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vector = next(v for v in OFFICIAL if v["source"] == "official-go-cbc")
    found = diagnose(vector["token"], vector["secret"], now=vector["ctime"])
    assert found.generator is not None and found.generator.candidates == ("go",)
    assert found.as_dict()["generator"] == {
        "candidates": ["go"],
        "evidence": list(found.generator.evidence),
    }
    monkeypatch.delenv("ZEGO_SERVER_SECRET", raising=False)
    monkeypatch.delenv("ZEGO_SERVER_SECRET_FILE", raising=False)
    status = main(["inspect", vector["token"], "--now", str(vector["ctime"]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert out["generator"]["candidates"] == ["node", "go", "php", "cpp", "dotnet"]
    main(["inspect", vector["token"], "--now", str(vector["ctime"]), "--secret", SECRET])
    assert "generator  Go (official generator, CBC)\n" in capsys.readouterr().out
