"""Redis outages, freezes, crashes and restarts: every hit answered fast and counted once."""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
import time_machine

from service import create_app
from service.ops.redis_process import RedisProcess, free_port

from .conftest import ADMIN_TOKEN, CHROME
from .helpers import add_site, counters, dropped_total, hit
from .servers import request
from .servers import every_server_kind  # noqa: F401  (a fixture: each test runs on every server kind)

ANSWER_BOUND_SECONDS = 1.0
"""Worst answer time allowed for a hit while Redis is away (timeout 0.25 s, one retry)."""


@pytest.fixture
def own_redis(tmp_path, server_kind):
    """A Redis of this test alone (AOF on, fsync every second), so the test may break it."""
    server = RedisProcess(tmp_path / "redis", appendonly=True, kind=server_kind).start()
    yield server
    server.stop(signal.SIGKILL)


@pytest.fixture
def make_app(own_redis, tmp_path):
    def build(**overrides):
        return create_app({"REDIS_URL": own_redis.url, "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
                           "SITE_CACHE_SECONDS": 60, "JOURNAL_DIR": str(tmp_path / "journal"), "FLUSH_INTERVAL_MS": 0,
                           **overrides})
    return build


def stream_hits(client, stop: threading.Event, sent: list, slowest: list):
    """Send hits from distinct visitors until told to stop, recording each answer."""
    n = 0
    while not stop.is_set():
        started = time.perf_counter()
        response = hit(client, ip=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
        slowest.append(time.perf_counter() - started)
        sent.append(response.status_code)
        n += 1
        time.sleep(0.005)


def run_outage(app, break_redis, heal_redis, outage_seconds=3.0):
    """Stream hits before, during and after an outage; answer (statuses, answer times)."""
    client = app.test_client()
    add_site(client)
    counters(client)  # warms the site cache: during the outage hits need no Redis read
    stop, sent, times = threading.Event(), [], []
    worker = threading.Thread(target=stream_hits, args=(client, stop, sent, times))
    worker.start()
    time.sleep(0.5)
    break_redis()
    time.sleep(outage_seconds)
    heal_redis()
    time.sleep(0.5)
    stop.set()
    worker.join()
    assert app.extensions["recorder"].flush(timeout_seconds=10)
    print(f"\noutage: {len(sent)} hits sent, worst answer {max(times) * 1000:.0f} ms")  # figures for -s runs
    return sent, times


@pytest.mark.parametrize("flush_ms", [0, 20])
def test_redis_stopped_under_steady_hits(make_app, own_redis, flush_ms):
    """Redis down for 3 s: every hit answered 204 within the bound; afterwards counters equal hits sent."""
    app = make_app(FLUSH_INTERVAL_MS=flush_ms)
    sent, times = run_outage(app, lambda: own_redis.stop(), lambda: own_redis.start())
    assert set(sent) == {204} and len(sent) > 100
    assert max(times) < ANSWER_BOUND_SECONDS, max(times)
    assert counters(app.test_client())["total"]["pageviews"] == len(sent)


def test_redis_frozen_under_steady_hits(make_app, own_redis):
    """Redis frozen by SIGSTOP: the timeouts keep answers fast, and nothing is lost or doubled."""
    app = make_app()
    sent, times = run_outage(app, lambda: own_redis.send_signal(signal.SIGSTOP),
                             lambda: own_redis.send_signal(signal.SIGCONT))
    assert set(sent) == {204} and len(sent) > 100
    assert max(times) < ANSWER_BOUND_SECONDS, max(times)
    # A write that timed out may have landed: its retry must be recognised, not counted again.
    assert counters(app.test_client())["total"]["pageviews"] == len(sent)


def test_counters_answer_stale_numbers_while_redis_is_away(make_app, own_redis):
    """The widget keeps the last numbers, marked stale; /readyz says 503; both heal by themselves."""
    client = make_app().test_client()
    add_site(client)
    hit(client)
    assert counters(client)["stale"] is False
    own_redis.stop()
    during = client.get("/api/v1/sites/travinh/counters")
    assert during.status_code == 200
    assert during.get_json()["stale"] is True and during.get_json()["total"]["pageviews"] == 1
    assert client.get("/readyz").status_code == 503
    own_redis.start()
    assert client.get("/readyz").status_code == 200
    assert counters(client)["stale"] is False


def test_sigkill_and_restart_from_aof_keeps_totals(make_app, own_redis):
    """Redis killed with SIGKILL and restarted from its AOF keeps the totals; the service reconnects."""
    app = make_app()
    client = app.test_client()
    add_site(client)
    for n in range(300):
        hit(client, ip=f"10.0.{n // 256}.{n % 256}")
    time.sleep(1.5)  # appendfsync everysec: what is older than a second is on disk
    own_redis.stop(signal.SIGKILL)
    own_redis.start()
    assert counters(client)["total"]["pageviews"] == 300
    assert hit(client).status_code == 204
    assert counters(client)["total"]["pageviews"] == 301


def test_hit_buffered_before_midnight_lands_in_its_day(make_app, own_redis):
    """Made at 23:59:58 while Redis is down, written after midnight: it counts for the day it was made."""
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    with time_machine.travel(datetime(2026, 11, 27, 23, 59, 58, tzinfo=hcm), tick=False) as traveller:
        app = make_app()
        client = app.test_client()
        add_site(client)
        counters(client)  # this worker has served the site before the outage
        own_redis.stop()
        assert hit(client).status_code == 204
        assert app.extensions["recorder"].depth == 1
        traveller.move_to(datetime(2026, 11, 28, 0, 0, 5, tzinfo=hcm))
        own_redis.start()
        assert app.extensions["recorder"].flush()
        c = counters(client)
        assert c["today"]["pageviews"] == 0 and c["total"]["pageviews"] == 1
        rows = client.get("/api/v1/sites/travinh/history?days=2",
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()["days"]
        assert rows[0]["date"] == "2026-11-27" and rows[0]["pageviews"] == 1



def test_full_buffer_drops_new_hits_and_counts_them(make_app, own_redis):
    """Beyond MAX_BUFFERED_HITS a hit is still answered at once, dropped, and said so."""
    app = make_app(MAX_BUFFERED_HITS=100, FLUSH_INTERVAL_MS=10_000)
    client = app.test_client()
    add_site(client)
    counters(client)
    dropped_before = dropped_total(client)
    own_redis.stop()
    answers = [hit(client, ip=f"10.1.0.{n}") for n in range(105)]
    assert all(a.status_code == 204 for a in answers)
    assert [a.headers.get("X-Not-Counted") for a in answers[100:]] == ["dropped"] * 5
    assert dropped_total(client) - dropped_before == 5
    own_redis.start()
    assert app.extensions["recorder"].flush()
    assert counters(client)["total"]["pageviews"] == 100


def test_sigterm_during_outage_spills_and_replays(own_redis, tmp_path, gunicorn_processes):
    """The service stopped with SIGTERM while Redis is down loses nothing: the next start counts it all."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = gunicorn_processes(own_redis.url, tmp_path, port)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    request(base + "/api/v1/sites/travinh", json.dumps({"domains": ["travinh.gov.vn"]}).encode(), auth, "PUT")
    body = json.dumps({"site": "travinh", "url": "https://travinh.gov.vn/"}).encode()
    for n in range(20):  # both workers learn the site while Redis is up
        request(base + "/api/v1/hit", body, {"User-Agent": CHROME.replace("131.0.0.0", f"131.0.0.{n}")})
    own_redis.stop()
    for n in range(200):
        status, _ = request(base + "/api/v1/hit", body, {"User-Agent": CHROME.replace("131.0.0.0", f"130.0.0.{n}")})
        assert status == 204
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    assert list((tmp_path / "journal").glob("journal-*.jsonl"))
    own_redis.start()
    process = gunicorn_processes(own_redis.url, tmp_path, port)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            total = json.loads(request(base + "/api/v1/sites/travinh/counters")[1])["total"]["pageviews"]
            if total >= 220:
                break
            time.sleep(0.2)
        time.sleep(1)
        assert json.loads(request(base + "/api/v1/sites/travinh/counters")[1])["total"]["pageviews"] == 220
        assert not list((tmp_path / "journal").glob("*.jsonl"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert redis.Redis.from_url(own_redis.url).ping()


@pytest.mark.parametrize(("policy", "appendonly", "ready", "says"), [
    ("noeviction", "yes", True, None),
    ("volatile-lru", "yes", True, "sessions and presence may be evicted"),
    ("allkeys-lru", "yes", False, "deletes all-time counters"),
    ("noeviction", "no", True, "AOF persistence is off"),
])
def test_eviction_guard(make_app, own_redis, caplog, policy, appendonly, ready, says):
    """A Redis that may evict all-time counters makes /readyz 503 and is logged at start."""
    admin = redis.Redis.from_url(own_redis.url)
    admin.config_set("maxmemory-policy", policy)
    admin.config_set("appendonly", appendonly)
    service_log = __import__("logging").getLogger("service")
    service_log.addHandler(caplog.handler)  # the service logger does not propagate to the root
    try:
        app = make_app()
    finally:
        service_log.removeHandler(caplog.handler)
    response = app.test_client().get("/readyz")
    assert (response.status_code == 200) is ready
    details = response.get_json()["durability"]
    messages = details["errors"] + details["warnings"]
    if says:
        assert any(says in m for m in messages)
        assert says in caplog.text
    else:
        assert messages == []
