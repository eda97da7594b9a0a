"""Restarts of everything, in the worst order: the service during an outage, a worker killed while
replaying, Redis restarted empty under two workers, a purge under traffic. Real gunicorn and
real servers; each test counts hits sent against hits counted."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis
import time_machine

from service import create_app
from service.ingest.journal import Journal
from service.ops.redis_process import RedisProcess, free_port
from service.model.hits import Hit

from .conftest import ADMIN_TOKEN, CHROME
from .helpers import ADMIN, add_site, counters, hit
from .servers import every_server_kind  # noqa: F401  (a fixture: each test runs on every server kind)
from .servers import request, wait_for, worker_pids

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}


@pytest.fixture
def own_redis(tmp_path, server_kind):
    """A server of this test alone, AOF on, so it may be stopped and started again with its data."""
    server = RedisProcess(tmp_path / "redis", appendonly=True, kind=server_kind).start()
    yield server
    server.stop()


def send_hit(base: str, n: int, site: str = "travinh", url: str = "https://travinh.gov.vn/", **headers) -> int:
    body = json.dumps({"site": site, "url": url}).encode()
    agent = CHROME.replace("131.0.0.0", f"131.{n // 250}.0.{n % 250}")  # a visitor per hit
    return request(base + "/api/v1/hit", body, {"User-Agent": agent, "Content-Type": "text/plain", **headers})[0]


def total_pageviews(url: str, site: str = "travinh") -> int:
    return int(redis.Redis.from_url(url).hget(f"va:{{{site}}}:tot", "pageviews") or 0)


def test_service_restarted_during_an_outage_counts_every_hit(own_redis, tmp_path, gunicorn_processes):
    """Redis down, the service (re)started: workers that never saw the site buffer its hits
    instead of refusing them; once Redis is back every hit counts once, and the domain check
    still holds for hits it could not check at the time."""
    redis.Redis.from_url(own_redis.url).hset("va:{travinh}:cfg", mapping={
        "domains": json.dumps(["travinh.gov.vn"]), "timezone": "Asia/Ho_Chi_Minh"})
    own_redis.stop()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn_processes(own_redis.url, tmp_path, port)
    statuses = [send_hit(base, n) for n in range(100)]
    statuses += [send_hit(base, 100 + n, url="https://evil.example/") for n in range(5)]
    statuses += [send_hit(base, 200 + n, Origin="https://evil.example") for n in range(5)]
    statuses += [send_hit(base, 300 + n, site="nobody") for n in range(5)]
    assert statuses == [204] * 115  # buffered, never refused
    own_redis.start()
    wait_for(lambda: total_pageviews(own_redis.url) >= 100)
    time.sleep(1)  # nothing else lands later
    assert total_pageviews(own_redis.url) == 100
    assert not redis.Redis.from_url(own_redis.url).keys("va:{nobody}:*")
    metrics = request(base + "/metrics")[1].decode()
    assert _sample(metrics, 'va_hits_total{outcome="foreign_domain"}') == 10
    assert _sample(metrics, 'va_hits_total{outcome="unknown_site"}') == 5


def _sample(metrics: str, series: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_worker_killed_while_replaying_a_journal_loses_nothing(own_redis, tmp_path, gunicorn_processes):
    """A worker claims a journal while Redis is away and is SIGKILLed: the worker gunicorn starts
    in its place reclaims the file, and every hit in it counts once when Redis is back."""
    redis.Redis.from_url(own_redis.url).hset("va:{travinh}:cfg", mapping={
        "domains": json.dumps(["travinh.gov.vn"]), "timezone": "Asia/Ho_Chi_Minh"})
    made = datetime.now(timezone.utc) - timedelta(minutes=1)
    batches = [(f"b{b}", [Hit("travinh", f"visitor-{b}-{n}", "pageview", made, "Asia/Ho_Chi_Minh")
                          for n in range(50)]) for b in range(3)]
    journal = tmp_path / "journal"
    Journal(journal).spill(batches)
    own_redis.stop()
    port = free_port()
    master = gunicorn_processes(own_redis.url, tmp_path, port)
    claimed = wait_for(lambda: list(journal.glob("replaying-*.jsonl")))
    assert len(claimed) == 1
    holder = int(claimed[0].name.split("-")[1])
    assert holder in worker_pids(master.pid)
    os.kill(holder, signal.SIGKILL)
    reclaimed = wait_for(lambda: [p for p in journal.glob("replaying-*.jsonl") if f"-{holder}-" not in p.name])
    assert reclaimed, list(journal.iterdir())
    own_redis.start()
    wait_for(lambda: total_pageviews(own_redis.url) >= 150)
    assert wait_for(lambda: not list(journal.glob("*.jsonl")))
    time.sleep(0.5)
    assert total_pageviews(own_redis.url) == 150
    assert request(f"http://127.0.0.1:{port}/metrics")[1].decode().count("va_journal_replayed_hits_total 150.0") == 1


def test_redis_restarted_empty_under_two_workers_keeps_one_visitor(tmp_path, server_kind):
    """Redis restarted without its data while one worker holds the day's salt and a new worker
    makes another: within the salt check interval the first adopts Redis's, so one person
    stays one visitor with one visit."""
    server = RedisProcess(tmp_path / "redis", appendonly=False, kind=server_kind).start()
    config = {"REDIS_URL": server.url, "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
              "SITE_CACHE_SECONDS": 600, "FLUSH_INTERVAL_MS": 0, "JOURNAL_DIR": str(tmp_path / "journal")}
    try:
        with time_machine.travel(datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc), tick=False) as clock:
            first = create_app(config).test_client()
            add_site(first)
            assert hit(first).status_code == 204
            server.stop(signal.SIGKILL)
            server.start()  # empty: no AOF, no snapshot
            add_site(first)
            clock.shift(timedelta(seconds=1))
            second = create_app(config).test_client()
            assert hit(second).status_code == 204   # the new worker makes a salt: Redis has none
            clock.shift(timedelta(seconds=10))      # past SALT_CHECK_SECONDS
            assert hit(first).status_code == 204    # the old worker adopts it
            today = counters(first)["today"]
            assert (today["visits"], today["visitors"], today["pageviews"]) == (1, 1, 2)
    finally:
        server.stop()


def test_purge_under_traffic_stays_purged(own_redis, tmp_path):
    """A site purged while another worker, which still caches it, streams hits: no key comes back."""
    config = {"REDIS_URL": own_redis.url, "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
              "SITE_CACHE_SECONDS": 600, "FLUSH_INTERVAL_MS": 20, "JOURNAL_DIR": str(tmp_path / "journal")}
    streaming, purging = create_app(config), create_app(config)
    client = streaming.test_client()
    add_site(client)
    stop, sent = threading.Event(), []

    def stream():
        while not stop.is_set():
            sent.append(hit(client, ip=f"10.7.{len(sent) // 250}.{len(sent) % 250}").status_code)

    worker = threading.Thread(target=stream)
    worker.start()
    try:
        time.sleep(0.5)
        assert purging.test_client().delete("/api/v1/sites/travinh?purge=true", headers=ADMIN).status_code == 204
        time.sleep(1.0)
    finally:
        stop.set()
        worker.join()
    assert streaming.extensions["recorder"].flush(timeout_seconds=10)
    assert set(sent) == {204} and len(sent) > 50
    assert redis.Redis.from_url(own_redis.url).keys("va:{travinh}:*") == []
