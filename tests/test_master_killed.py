"""A gunicorn master killed with SIGKILL: its orphaned workers stop accepting at once, finish what
they hold and write their hits, and a restart on the same address comes up instead of refusing."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import redis

from service.ops.redis_process import RedisProcess, free_port

from .conftest import ADMIN_TOKEN
from .servers import launch_gunicorn, request, stop_process, wait_for, worker_pids
from .test_journal_room import send_hit

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis(tmp_path):
    server = RedisProcess(tmp_path / "redis", appendonly=False).start()
    yield server
    server.stop()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_restart_right_after_a_killed_master_comes_up(own_redis, tmp_path, gunicorn_processes):
    """After a SIGKILL of the master, a new instance on the same address starts and every answered hit counts."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    old = gunicorn_processes(own_redis.url, tmp_path / "old", port)
    status, _ = request(f"{base}/api/v1/sites/travinh", json.dumps({"domains": ["travinh.gov.vn"]}).encode(),
                        {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}, "PUT")
    assert status == 201
    orphans = worker_pids(old.pid)
    # A slow upload keeps a request in flight in one worker through the kill.
    body = json.dumps({"site": "travinh", "url": "https://travinh.gov.vn/"}).encode()
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"POST /api/v1/hit HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nUser-Agent: Mozilla/5.0 "
                 b"(X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36\r\nContent-Length: %d\r\n\r\n" % len(body)
                 + body[:10])
    answered, stop = [], threading.Event()

    def traffic():
        n, started = 0, time.monotonic()
        while not stop.is_set() and time.monotonic() - started < 60:
            n += 1
            try:
                if send_hit(base, n) == (204, None):
                    answered.append(n)
            except OSError:
                time.sleep(0.02)  # between the old workers and the new ones

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        time.sleep(1)
        old.send_signal(signal.SIGKILL)
        old.wait()
        new, log = launch_gunicorn(own_redis.url, tmp_path / "new", port)
        try:
            assert wait_for(lambda: new.poll() is not None or "Booting worker" in log.read_text(), 20)
            assert new.poll() is None, log.read_text()[-2000:]
            assert wait_for(lambda: send_hit(base, 10**6) == (204, None) and answered.append(10**6) is None, 10)
            slow.sendall(body[10:])
            assert b" 204 " in slow.recv(4096)  # the orphan finished the request it held
            answered.append(-1)
            time.sleep(1)
            stop.set()
            sender.join()
            assert wait_for(lambda: not any(alive(pid) for pid in orphans), 30), "orphaned workers still running"
            total = lambda: int(redis.Redis(port=own_redis.port).hget("va:{travinh}:tot", "pageviews") or 0)  # noqa: E731
            wait_for(lambda: total() >= len(answered), 10)
            print(f"\n{len(answered)} hits answered 204, {total()} counted")
            assert total() == len(answered)
        finally:
            stop.set()
            stop_process(new)
    finally:
        stop.set()
        sender.join()
        slow.close()
        for pid in orphans:  # ours, started through the killed master
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
