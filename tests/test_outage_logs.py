"""An outage, its end and the hits dropped meanwhile are logged at WARNING with their numbers, and
/readyz counts the hits buffered by every worker of the instance."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error

import pytest
import redis

from service import create_app
from service.ops.redis_process import RedisProcess, free_port

from .conftest import ADMIN_TOKEN
from .helpers import add_site, counters, hit
from .servers import request, wait_for
from .test_journal_room import send_hit


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test alone, AOF on, so it can be stopped and started with its data."""
    server = RedisProcess(tmp_path / "redis", appendonly=True).start()
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


def warnings(caplog, words: str, app=None) -> list[logging.LogRecord]:
    """WARNING records with ``words`` (of ``app``'s recorder only, when given: an earlier test's app may
    still be retrying against a Redis long stopped, in a flusher of its own)."""
    threads = {app.extensions["recorder"].thread_name, threading.current_thread().name} if app else None
    return [r for r in caplog.records if r.levelno == logging.WARNING and words in r.getMessage()
            and (threads is None or r.threadName in threads)]


def test_outage_and_drops_are_logged_with_their_numbers(own_redis, tmp_path, service_log):
    """Redis stopped under hits: one WARNING with the hits buffered, one per minute of drops, one when it is back."""
    app = create_app({"REDIS_URL": own_redis.url, "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
                      "SITE_CACHE_SECONDS": 300, "FLUSH_INTERVAL_MS": 5, "MAX_BUFFERED_HITS": 100,
                      "JOURNAL_DIR": str(tmp_path / "journal")})
    client = app.test_client()
    add_site(client)
    counters(client)
    own_redis.stop()
    # The flusher held while the 150 hits come: its first report sees every drop (on a slow machine it
    # could otherwise log after 6 of them, and the other 44 only a minute later).
    with app.extensions["recorder"]._flushing:
        answers = [hit(client, ip=f"10.8.{n // 256}.{n % 256}").headers.get("X-Not-Counted") for n in range(150)]
    assert answers.count("dropped") == 50
    assert wait_for(lambda: warnings(service_log, "Redis stopped answering", app)
                    and warnings(service_log, "dropped", app), 10)
    assert len(warnings(service_log, "Redis stopped answering", app)) == 1
    assert "50 hits dropped" in warnings(service_log, "dropped", app)[0].getMessage()
    own_redis.start()
    assert wait_for(lambda: warnings(service_log, "Redis answers again", app), 15)
    back = warnings(service_log, "Redis answers again", app)
    assert len(back) == 1 and "100 buffered hits written" in back[0].getMessage(), back[0].getMessage()
    assert counters(client)["total"]["pageviews"] == 100


def test_readyz_sums_the_buffers_of_every_worker(own_redis, tmp_path, gunicorn_processes):
    """While Redis is away, /readyz's buffered_hits is every worker's buffer, not the answering one's."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn_processes(own_redis.url, tmp_path / "service", port)
    status, _ = request(f"{base}/api/v1/sites/travinh", json.dumps({"domains": ["travinh.gov.vn"]}).encode(),
                        {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}, "PUT")
    assert status == 201
    own_redis.stop()
    buffered = sum(1 for n in range(40) if send_hit(base, n) == (204, None))  # new connections: both workers

    def readyz_buffered() -> int:
        try:
            request(base + "/readyz")
        except urllib.error.HTTPError as answer:
            return json.loads(answer.read())["buffered_hits"]
        return -1

    wait_for(lambda: readyz_buffered() == buffered, 10)
    assert buffered == 40 and readyz_buffered() == 40
    own_redis.start()
    assert wait_for(lambda: int(redis.Redis(port=own_redis.port).hget("va:{travinh}:tot", "pageviews") or 0) == 40, 15)
