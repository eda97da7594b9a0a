"""In-process read caches stay within their byte budgets, whatever anonymous readers ask (real gunicorn, real Redis)."""

from __future__ import annotations

import http.client
import json
import random
from pathlib import Path
from urllib.parse import urlencode

from service.ops.redis_process import free_port

from .conftest import ADMIN_TOKEN
from .servers import request, worker_pids

BUDGET_BYTES = 1024 * 1024
"""READ_CACHE_MAX_BYTES of the server under test."""
SLACK_BYTES = 12 * 1024 * 1024
"""RSS growth allowed beyond the budget: the allocator's arenas and one request's garbage."""
ANSWERS = 1000
"""Distinct pages answers asked for: at ~71 KB of Python objects each, ~70 MB when unbounded."""
POOL = [f"/tin-tuc/bai-viet-so-{n:04d}-tb" for n in range(300)]
"""Paths the requests pick from: few enough that the path normalizer's own cache stays small."""


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_pages_answers_stay_within_the_read_cache_budget(redis_url, tmp_path, gunicorn_processes):
    """A thousand distinct /pages requests of 100 paths (the most a request line holds) grow the worker's
    memory by no more than READ_CACHE_MAX_BYTES and a fixed slack."""
    port = free_port()
    master = gunicorn_processes(redis_url, tmp_path, port, WEB_CONCURRENCY="1", COUNTERS_CACHE_SECONDS="60",
                                READ_CACHE_MAX_BYTES=str(BUDGET_BYTES))
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    request(f"http://127.0.0.1:{port}/api/v1/sites/travinh", b'{"domains": ["travinh.gov.vn"]}', auth, "PUT")
    (worker,) = worker_pids(master.pid)
    pick = random.Random(7)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def ask(n: int) -> None:
        query = urlencode([("path", p) for p in pick.sample(POOL, 100)], safe="/")
        connection.request("GET", f"/api/v1/sites/travinh/pages?{query}")
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200 and len(json.loads(body)["pages"]) == 100, (n, body[:200])

    for n in range(100):  # warm up: imports, pools, the allocator's first arenas
        ask(n)
    before = rss_bytes(worker)
    for n in range(ANSWERS):
        ask(n)
    grown = rss_bytes(worker) - before
    connection.close()
    assert grown <= BUDGET_BYTES + SLACK_BYTES, f"worker grew {grown / 2**20:.1f} MiB"
