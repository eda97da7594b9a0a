"""The shipped deployment files: a lint-clean Dockerfile and a compose file with durable Redis."""

from __future__ import annotations

import shutil
import sys
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


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_nginx_is_the_only_door():
    """Only nginx publishes a port; the app is reachable on the compose network alone, believes one
    proxy hop, and nginx runs the shipped configuration files."""
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}, published
    assert services["app"]["environment"]["TRUSTED_PROXIES"] == "1"
    mounts = {volume.split(":")[0] for volume in services["nginx"]["volumes"]}
    assert mounts == {"./deploy/nginx/visitor-analytics.conf", "./deploy/nginx/visitor-analytics-site.conf"}
    assert all((ROOT / mount).is_file() for mount in mounts)


def test_stop_grace_period_outlasts_gunicorn_and_the_buffer():
    """Docker waits longer than gunicorn's graceful timeout plus the buffer's flush (and spill)
    before it SIGKILLs, so a stop during a Redis outage journals the buffered hits."""
    import inspect
    import re

    from service.ingest.recorder import BufferedRecorder

    # Read, not imported: importing the gunicorn config would set PROMETHEUS_MULTIPROC_DIR here.
    graceful = int(re.search(r"^graceful_timeout = (\d+)", (ROOT / "service" / "ops" / "gunicorn_config.py").read_text(),
                             re.M).group(1))
    flush = inspect.signature(BufferedRecorder.close).parameters["timeout_seconds"].default
    grace = compose()["services"]["app"]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace), grace
    spill_and_reap_seconds = 10
    assert int(grace[:-1]) >= graceful + flush + spill_and_reap_seconds, (grace, graceful, flush)
    deployment = (ROOT / "docs" / "deployment.md").read_text()
    assert f"stop_grace_period: {grace}" in deployment and f"graceful_timeout` ({graceful} s)" in deployment


def test_docker_compose_accepts_the_file_with_env_example(tmp_path):
    """Debian's `docker-compose config` (no engine needed) refuses compose.yaml with .env.example as .env
    until REDIS_PASSWORD is set, then accepts it, monitoring profile and TLS override included."""
    for name in ("compose.yaml", "compose.tls.yaml", "Dockerfile", "deploy"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    command = ["docker-compose", "--profile", "monitoring", "config", "--services"]
    refused = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "set REDIS_PASSWORD in .env" in refused.stderr, refused.stderr
    with (tmp_path / ".env").open("a") as env:
        env.write("REDIS_PASSWORD=0123456789abcdef0123456789abcdef\n")
    for files in ([], ["-f", "compose.yaml", "-f", "compose.tls.yaml"]):
        result = subprocess.run(command[:1] + files + command[1:], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        assert set(result.stdout.split()) == {"redis", "app", "nginx", "prometheus", "blackbox-exporter",
                                              "alertmanager"}


def test_image_installs_dependencies_before_copying_the_code():
    """The build installs the dependencies of pyproject.toml in a layer of their own, before the code is
    copied, then the package with --no-deps: a code change does not reinstall them."""
    import re

    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()]
    build = lines[:next(n for n, line in enumerate(lines) if line.startswith("FROM") and "AS build" not in line)]
    order = [n for n, line in enumerate(build) if line.startswith(("COPY", "RUN"))]
    steps = [build[n] for n in order]
    deps = next(n for n, step in enumerate(steps) if "-r requirements.txt" in step)
    code = next(n for n, step in enumerate(steps) if step.startswith("COPY service"))
    package = next(n for n, step in enumerate(steps) if "--no-deps ." in step)
    assert steps[deps - 1] == "COPY pyproject.toml ./" and deps < code < package, steps
    # The requirements the build writes are exactly pyproject.toml's dependencies.
    script = re.search(r'python -c "(.*?)"\s+> requirements.txt', steps[deps]).group(1)
    written = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    import tomllib

    assert written.stdout.split() == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
