"""What a crash costs, measured: hits answered 204 against hits counted, around each failure.

    .venv/bin/python bench/durability.py [--rounds 3] [--seconds 4]

Every process listens on 127.0.0.1 and is stopped by PID. The service runs the image's
command and defaults (gunicorn gthread 2x4, FLUSH_INTERVAL_MS=20), Redis with AOF
`appendfsync everysec`. Each round streams hits from 8 threads (a new visitor per hit), makes
the failure halfway, streams on, then waits for the buffers and compares.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.storage import keys  # noqa: E402
from service.ops.redis_process import RedisProcess, free_port  # noqa: E402

TOKEN = "durability-bench-token-0123456789abcdef"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


class Service:
    """gunicorn with the shipped config, on a free port."""

    def __init__(self, redis_url: str, folder: Path, **env):
        self.port = free_port()
        self.folder = folder
        self.env = {**os.environ, "REDIS_URL": redis_url, "ADMIN_TOKEN": TOKEN, "BIND": f"127.0.0.1:{self.port}",
                    "JOURNAL_DIR": str(folder / "journal"), "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
                    "LOG_LEVEL": "WARNING", "VISITOR_HITS_PER_MINUTE": "1000000", "IP_HITS_PER_MINUTE": "0",
                    **env}
        self.process: subprocess.Popen | None = None

    def start(self) -> Service:
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_config",
                                         "service:create_app()"], env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=(self.folder / "gunicorn.log").open("ab"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                call(self.port, "GET", "/healthz")
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def workers(self) -> list[int]:
        pid = self.process.pid
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def stream(service: Service, seconds: float, event, threads: int = 8) -> int:
    """Send hits for ``seconds``, calling ``event()`` halfway; answer how many were answered 204."""
    answered, stop = [0] * threads, threading.Event()
    body = json.dumps({"site": "durable", "url": "https://durable.example.vn/"}).encode()

    def send(index: int) -> None:
        n = 0
        while not stop.is_set():
            agent = f"{AGENT} t{index}n{n}"
            n += 1
            try:
                if call(service.port, "POST", "/api/v1/hit", body, {"User-Agent": agent,
                                                                     "Content-Type": "text/plain"}) == 204:
                    answered[index] += 1
            except OSError:
                time.sleep(0.01)  # a killed worker's connection, or the service restarting

    pool = [threading.Thread(target=send, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    time.sleep(seconds / 2)
    event()
    time.sleep(seconds / 2)
    stop.set()
    for thread in pool:
        thread.join()
    return sum(answered)


def counted(redis_process: RedisProcess, expected: int, wait_seconds: float = 15.0) -> int:
    import redis

    client = redis.Redis.from_url(redis_process.url)
    deadline, found = time.monotonic() + wait_seconds, 0
    while time.monotonic() < deadline:
        try:
            found = int(client.hget(keys.total("durable"), "pageviews") or 0)
        except redis.RedisError:
            found = 0
        if found >= expected:
            break
        time.sleep(0.2)
    time.sleep(1)
    return int(client.hget(keys.total("durable"), "pageviews") or 0)


def one_round(scenario: str, seconds: float) -> tuple[int, int]:
    with tempfile.TemporaryDirectory(prefix="va-durability-") as tmp:
        folder = Path(tmp)
        server = RedisProcess(folder / "redis", appendonly=True).start()
        flush = "0" if scenario == "worker SIGKILL, FLUSH_INTERVAL_MS=0" else "20"
        service = Service(server.url, folder, FLUSH_INTERVAL_MS=flush).start()
        try:
            auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            call(service.port, "PUT", "/api/v1/sites/durable", b'{"domains": ["durable.example.vn"]}', auth)
            if scenario.startswith("worker SIGKILL"):
                sent = stream(service, seconds, lambda: os.kill(service.workers()[0], signal.SIGKILL))
            elif scenario == "Redis SIGKILL (AOF everysec)":
                def crash():
                    server.stop(signal.SIGKILL)
                    time.sleep(0.5)
                    server.start()
                sent = stream(service, seconds, crash)
            else:  # the service restarted with SIGTERM while Redis is down
                def restart():
                    server.stop()
                    service.stop()
                    service.start()
                    time.sleep(0.5)
                    server.start()
                sent = stream(service, seconds, restart)
            return sent, counted(server, sent)
        finally:
            service.stop()
            server.stop()


SCENARIOS = ("worker SIGKILL, FLUSH_INTERVAL_MS=20", "worker SIGKILL, FLUSH_INTERVAL_MS=0",
             "Redis SIGKILL (AOF everysec)", "service restart during a Redis outage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    print(f"| failure | rounds | hits answered 204 (median) | lost per round (each) | lost, median |")
    print("|---|---|---|---|---|")
    for scenario in SCENARIOS:
        results = [one_round(scenario, args.seconds) for _ in range(args.rounds)]
        lost = [sent - got for sent, got in results]
        print(f"| {scenario} | {args.rounds} | {statistics.median(s for s, _ in results):,.0f} | "
              f"{', '.join(map(str, lost))} | {statistics.median(lost):.0f} |", flush=True)
    print(f"\nload average: {os.getloadavg()[0]:.1f} (2 cores shared with the load generator)")


if __name__ == "__main__":
    main()
