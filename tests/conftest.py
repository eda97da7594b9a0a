"""Fixtures: a real redis-server per test session, a flushed database per test, the real app."""

from __future__ import annotations

import logging

import redis
import pytest

from service import create_app
from service.ops.redis_process import RedisProcess

ADMIN_TOKEN = "test-admin-token-of-at-least-32-characters"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")


@pytest.fixture(scope="session")
def redis_servers(tmp_path_factory):
    """Real servers on free loopback ports, data in temp dirs, one per kind, started on first use;
    a missing server fails the test, never skips it."""
    started: dict[str, RedisProcess] = {}

    def server(kind: str) -> RedisProcess:
        if kind not in started:
            started[kind] = RedisProcess(tmp_path_factory.mktemp(kind), appendonly=False, kind=kind).start()
        return started[kind]

    yield server
    for process in started.values():
        process.stop()


@pytest.fixture(scope="session")
def server_kind() -> str:
    """Which server a test talks to: Debian's redis-server, unless its module asks for every kind."""
    return "redis"


@pytest.fixture
def redis_server(redis_servers, server_kind):
    return redis_servers(server_kind)


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's Redis, emptied before this test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def app_config(redis_url, tmp_path) -> dict:
    """Settings of the test app: no caches, hits written before answering, a private journal."""
    return {"REDIS_URL": redis_url, "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
            "SITE_CACHE_SECONDS": 0, "FLUSH_INTERVAL_MS": 0, "JOURNAL_DIR": str(tmp_path / "journal")}


@pytest.fixture
def app(app_config):
    return create_app(app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin_headers() -> dict:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def gunicorn_processes():
    """Start gunicorn instances for a test; any still running at its end are stopped (by PID)."""
    import subprocess

    from .servers import start_gunicorn, stop_process

    started: list[subprocess.Popen] = []

    def start(*args, **kwargs) -> subprocess.Popen:
        process = start_gunicorn(*args, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)


def pytest_sessionfinish(session, exitstatus):
    """The apps the tests built close their recorders at interpreter exit (atexit), after pytest has
    closed the streams its log capture wrote to: their last lines ("spilled to ...") would each print
    a "--- Logging error ---" traceback into CI's output. Not product errors: silenced here."""
    logging.raiseExceptions = False
