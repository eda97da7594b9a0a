"""The shipped compose file passes a container audit, checked on what `docker-compose config` renders.

No Docker engine here: Debian's docker-compose renders compose.yaml (with the TLS override and the
monitoring profile) from a .env, and each property is asserted per service. The Redis command and
healthcheck it renders are then run with Debian's redis-server and redis-cli.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import redis
import yaml

from service.ops.redis_process import free_port

from .servers import wait_for

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "0123456789abcdef0123456789abcdef"
ALL_SERVICES = {"redis", "app", "nginx", "prometheus", "blackbox-exporter", "alertmanager"}
CAPABILITIES_ADDED: dict[str, set[str]] = {}
"""Capabilities a service adds back after dropping ALL: none (nothing runs as root, nginx listens on 8080/8443)."""
TMPFS_NEEDED = {
    "redis": {"/tmp"},                                                   # its config file with the password
    "app": {"/tmp"},                                                     # metrics folder, gunicorn heartbeats
    "nginx": {"/etc/nginx/conf.d", "/var/cache/nginx", "/var/run"},      # rendered templates, buffers, pid
}


def render(folder: Path, *files: str) -> dict:
    """`docker-compose config` of the project copied to ``folder`` with .env.example plus a password."""
    for name in ("compose.yaml", "compose.tls.yaml", "Dockerfile", "deploy"):
        source = ROOT / name
        if not (folder / name).exists():
            (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / name)
    (folder / ".env").write_text((ROOT / ".env.example").read_text() + f"REDIS_PASSWORD={PASSWORD}\n")
    chosen = [argument for name in files for argument in ("-f", name)]
    result = subprocess.run(["docker-compose", *chosen, "--profile", "monitoring", "config"], cwd=folder,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    return render(tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="module")
def rendered_tls(tmp_path_factory) -> dict:
    return render(tmp_path_factory.mktemp("compose-tls"), "compose.yaml", "compose.tls.yaml")


def memory_limit(service: dict) -> str | None:
    return service.get("mem_limit") or service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")


@pytest.mark.parametrize("which", ["rendered", "rendered_tls"])
def test_every_service_is_read_only_without_capabilities_and_memory_limited(request, which):
    """Every service: read-only root, cap_drop ALL (nothing added back), no-new-privileges, a memory
    limit, and a tmpfs wherever it writes outside its volumes."""
    services = request.getfixturevalue(which)["services"]
    assert set(services) == ALL_SERVICES
    for name, service in services.items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert set(service.get("cap_add", [])) == CAPABILITIES_ADDED.get(name, set()), name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert memory_limit(service), name
        mounted = {entry.split(":")[0] for entry in service.get("tmpfs", [])}
        assert TMPFS_NEEDED.get(name, set()) <= mounted, (name, mounted)
        assert not service.get("privileged"), name


def test_redis_has_a_password_no_port_and_a_network_of_its_own(rendered):
    """Redis takes the .env's password, publishes nothing and shares its (internal) network with the
    app only; nginx is on another; the app's REDIS_URL carries the password; healthchecks are kept."""
    services, networks = rendered["services"], rendered["networks"]
    redis_service = services["redis"]
    assert redis_service["environment"]["REDIS_PASSWORD"] == PASSWORD
    assert "ports" not in redis_service
    assert services["app"]["environment"]["REDIS_URL"] == f"redis://:{PASSWORD}@redis:6379/0"
    (backend,) = redis_service["networks"]
    assert networks[backend].get("internal") is True
    assert {name for name, service in services.items() if backend in service.get("networks", {})} == {"redis", "app"}
    assert not set(services["nginx"]["networks"]) & set(redis_service["networks"])
    assert redis_service["healthcheck"]["test"][0] == "CMD-SHELL"
    assert PASSWORD not in " ".join(redis_service["command"]), "the password would show in `ps`"


def test_only_nginx_publishes_ports_and_tls_adds_https(rendered, rendered_tls):
    """nginx alone publishes (80 to its unprivileged 8080); the TLS override adds 443 to 8443, the
    certificate folder read-only and the https template."""
    for config in (rendered, rendered_tls):
        published = {name for name, service in config["services"].items() if service.get("ports")}
        assert published == {"nginx"}
    targets = lambda config: {(p["published"], p["target"]) for p in config["services"]["nginx"]["ports"]}  # noqa: E731
    assert targets(rendered) == {(80, 8080)}
    assert targets(rendered_tls) == {(80, 8080), (443, 8443)}
    nginx = rendered_tls["services"]["nginx"]
    assert nginx["environment"]["VA_REDIRECT_TO_HTTPS"] == "1"
    volumes = nginx["volumes"]
    assert any(v.endswith(":/etc/nginx/tls:ro") for v in volumes), volumes
    assert any(v.endswith("visitor-analytics-tls.conf:/etc/nginx/templates/tls.conf.template:ro") for v in volumes)
    assert str(nginx["user"]).split(":")[0] not in ("0", "root")


def compose_shell(text: str) -> str:
    """A rendered command as the container's shell receives it (`docker-compose config` keeps $$)."""
    return text.replace("$$", "$")


def test_rendered_redis_command_requires_the_password(rendered, tmp_path):
    """The rendered Redis command, run with Debian's redis-server, refuses clients without the password,
    answers the app's REDIS_URL, keeps AOF and noeviction, and keeps the password off its command line;
    the rendered healthcheck passes with it."""
    service = rendered["services"]["redis"]
    sh, flag, script = service["command"]
    port = free_port()
    script = compose_shell(script).replace("/tmp/redis.conf", str(tmp_path / "redis.conf"))
    script += f" --port {port} --bind 127.0.0.1 --dir {tmp_path}"
    env = {**os.environ, "REDIS_PASSWORD": service["environment"]["REDIS_PASSWORD"]}
    process = subprocess.Popen([sh, flag, script], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        url = rendered["services"]["app"]["environment"]["REDIS_URL"].replace("redis:6379", f"127.0.0.1:{port}")
        client = redis.Redis.from_url(url)
        assert wait_for(lambda: ping(client), 10), process.stderr
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert PASSWORD.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
        check = compose_shell(service["healthcheck"]["test"][1]).replace("redis-cli", f"redis-cli -p {port}")
        assert subprocess.run(["sh", "-c", check], env=env, timeout=10).returncode == 0
        wrong = {**env, "REDIS_PASSWORD": "wrong"}
        assert subprocess.run(["sh", "-c", check], env=wrong, timeout=10, capture_output=True).returncode != 0
        client.close()
    finally:
        process.terminate()
        process.wait(10)


def ping(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def test_rendered_redis_command_refuses_a_password_a_url_would_mangle(rendered, tmp_path):
    """A password with characters REDIS_URL cannot carry as they are stops Redis at once, saying why."""
    sh, flag, script = rendered["services"]["redis"]["command"]
    script = compose_shell(script).replace("/tmp/redis.conf", str(tmp_path / "redis.conf"))
    result = subprocess.run([sh, flag, script + f" --port {free_port()} --bind 127.0.0.1"], cwd=tmp_path,
                            env={**os.environ, "REDIS_PASSWORD": "p@ss/word"}, capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 1 and "REDIS_PASSWORD" in result.stderr
    assert not (tmp_path / "redis.conf").exists()


def test_gunicorn_is_23_or_later():
    """pyproject.toml asks for gunicorn 23 or later (23.0 fixed a request-smuggling flaw, CVE-2024-6827)."""
    import tomllib

    from packaging.specifiers import SpecifierSet

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in dependencies if d.startswith("gunicorn")]
    allowed = SpecifierSet(spec[len("gunicorn"):])
    assert "22.0.0" not in allowed and "23.0.0" in allowed, spec
