"""The shipped deployment files: a lint-clean Dockerfile and a compose file with durable Redis."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_passes_hadolint():
    """hadolint finds nothing to complain about."""
    hadolint = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_the_tested_gunicorn_command_as_non_root():
    """The image's CMD is the gunicorn command the tests run, under a non-root user, with a HEALTHCHECK."""
    text = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "-c", "python:service.gunicorn_config", "service:create_app()"]' in text
    assert "USER 10001" in text and "HEALTHCHECK" in text


def test_compose_redis_keeps_every_count():
    """compose.yaml runs Redis with AOF (fsync every second), noeviction and a volume."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    command = " ".join(compose["services"]["redis"]["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert compose["services"]["redis"]["volumes"]
    assert compose["services"]["app"]["environment"]["REDIS_URL"].startswith("redis://")
