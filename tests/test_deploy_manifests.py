"""The deployment examples parse, probe the right endpoints, and hold no secret in plain text."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from zego_token.auth.jwt_mode import JwtSettings
from zego_token.pipeline.policy import PolicySettings
from zego_token.pipeline.ratelimit import RateLimitSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|API_KEY|TOKEN(?!_CONFIG)", re.IGNORECASE)


def documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def of_kind(kind: str, name: str = "zego-token") -> dict[str, Any]:
    found = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}"
    return found[0]


def container() -> dict[str, Any]:
    pod = of_kind("Deployment")["spec"]["template"]["spec"]
    (main,) = [c for c in pod["containers"] if c["name"] == "zego-token"]
    return main


def test_every_manifest_parses_and_has_kind_and_name() -> None:
    docs = documents()
    assert {d["kind"] for d in docs} >= {
        "Deployment",
        "Service",
        "Secret",
        "HorizontalPodAutoscaler",
        "ConfigMap",
    }
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"]


def test_probes_hit_healthz_and_readyz_on_the_served_port() -> None:
    main = container()
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"]["port"] in ports
    config = tomllib.loads(of_kind("ConfigMap")["data"]["config.toml"])
    assert config["server"]["port"] == ports["http"]
    assert config["server"]["host"] == "0.0.0.0"


def test_server_secret_comes_from_the_secret_by_reference() -> None:
    env = {e["name"]: e for e in container()["env"]}
    ref = env["ZEGO_SERVER_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == of_kind("Secret")["metadata"]["name"]
    assert "value" not in env["ZEGO_SERVER_SECRET"]


def test_no_secret_value_in_plain_text() -> None:
    secret = of_kind("Secret")
    assert not secret.get("data") and not secret.get("stringData"), "values must not be committed"
    for doc in documents():
        for pod in _pod_specs(doc):
            for c in pod.get("containers", []):
                for env in c.get("env", []):
                    if SECRET_NAMES.search(env["name"]):
                        assert "value" not in env, f"{env['name']} must use valueFrom"
    text = "\n".join(p.read_text() for p in DEPLOY.rglob("*") if p.is_file())
    # a ZEGO ServerSecret is 32 hex-like characters; API keys and HMAC secrets are long tokens
    assert not re.search(r"\b[0-9a-f]{32}\b", text)
    assert "PRIVATE KEY" not in text


def test_hpa_scales_the_deployment() -> None:
    hpa = of_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "zego-token",
    }
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_service_selects_the_pods() -> None:
    selector = of_kind("Service")["spec"]["selector"]
    labels = of_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_configmap_sections_are_valid_settings() -> None:
    """The example configuration is accepted by the modules that will read it."""
    config = tomllib.loads(of_kind("ConfigMap")["data"]["config.toml"])
    JwtSettings.from_mapping(config["auth"]["jwt"])
    PolicySettings.from_mapping(config["policy"])
    limits = RateLimitSettings.from_mapping(config["rate_limit"])
    assert limits.redis_url.startswith("redis://zego-token-redis:")
    redis_service = of_kind("Service", "zego-token-redis")
    assert redis_service["spec"]["ports"][0]["port"] == 6379


def test_systemd_unit_reads_the_secret_from_a_file() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    text = (DEPLOY / "systemd" / "zego-token.service").read_text()
    unit.read_string(text)
    service = unit["Service"]
    assert "serve" in service["ExecStart"]
    assert service["KillSignal"] == "SIGTERM"
    assert "Environment=ZEGO_SERVER_SECRET_FILE=" in text
    assert "ZEGO_SERVER_SECRET=" not in text
    assert service["User"] != "root"
    # The venv the unit runs from is created by the steps written above it.
    venv = service["ExecStart"].split()[0].rsplit("/bin/", 1)[0]
    assert f"python3 -m venv {venv}" in text
    assert f"{venv}/bin/pip install" in text


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), " ".join(rest.split())))
    return pairs


def test_dockerfile_pins_its_base_runs_as_non_root_and_checks_health() -> None:
    instructions = dockerfile_instructions()
    bases = [args for word, args in instructions if word == "FROM"]
    assert len(bases) == 1
    # A patch release and a distribution release (or a digest), never a floating tag.
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", bases[0]), bases
    users = [args for word, args in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    checks = [args for word, args in instructions if word == "HEALTHCHECK"]
    assert len(checks) == 1 and "/healthz" in checks[0], checks
    port = next(args for word, args in instructions if word == "EXPOSE")
    assert f"127.0.0.1:{port}/healthz" in checks[0]
    assert any(word == "CMD" and f'"{port}"' in args for word, args in instructions)


def test_deploy_doc_has_a_docker_run_recipe_with_a_mounted_secret_file() -> None:
    doc = (DEPLOY.parent / "docs" / "deploy.md").read_text()
    recipe = doc[doc.index("$ docker run") :].split("\n$ ", 1)[0]
    assert "ZEGO_APP_ID=" in recipe
    assert "ZEGO_SERVER_SECRET_FILE=/run/secrets/" in recipe
    assert ":/run/secrets/zego-server-secret:ro" in recipe
    assert "ZEGO_SERVER_SECRET=" not in recipe


@pytest.mark.parametrize(
    "directive", ["proxy_pass http://zego_token", "X-Forwarded-For $remote_addr"]
)
def test_nginx_example(directive: str) -> None:
    assert directive in (DEPLOY / "nginx" / "zego-token.conf").read_text()


def _pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    template = spec.get("template", {}).get("spec")
    return [template] if template else []
