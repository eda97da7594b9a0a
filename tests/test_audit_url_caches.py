"""Audit: the hit path's per-worker caches were bounded in entries only, keyed by what readers invent.

``page_key`` and ``page_link`` (16,384 entries each) kept URLs of up to 2,048 characters, and
``origin_host`` (4,096 entries) Origin headers of up to 8 KiB: 46 + 31 MiB a worker for a flood of
invented URLs and Origins, outside every documented budget (the spec: in-process caches are bounded
in bytes, not only in entries). A URL or Origin longer than a real one is now worked out afresh,
never kept.
"""

from __future__ import annotations

import gc
import json
import tracemalloc

from service.ingest.beacon import from_body

from .conftest import CHROME
from .helpers import add_site

HITS = 1500


def test_a_flood_of_long_invented_urls_and_origins_leaves_little_in_the_worker(client):
    add_site(client)
    send = lambda i: client.post(  # noqa: E731
        "/api/v1/hit", content_type="text/plain",
        data=json.dumps({"site": "travinh", "url": f"https://travinh.gov.vn/{i:06d}{'x' * 1900}?id={i}"}),
        headers={"User-Agent": CHROME, "Origin": f"https://{i:06d}{'o' * 8000}"},
        environ_base={"REMOTE_ADDR": "198.51.100.77"})
    for i in range(50):  # warm up whatever is built once
        send(i)
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(50, 50 + HITS):
            assert send(i).status_code == 204
        from_body.cache_clear()  # the hit bodies' own cache: documented, 2,048 bodies of <= 4 KiB
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 2 * 2**20, f"{held / 2**20:.1f} MiB held after {HITS} hits"


def test_ordinary_urls_are_still_cached():
    from service.model import page_urls

    before = page_urls._page_key.cache_info().currsize
    page_urls.page_key("https://travinh.gov.vn/tin-tuc/audit-cache-check?utm_source=x")
    assert page_urls._page_key.cache_info().currsize == before + 1
    long_url = "https://travinh.gov.vn/" + "a" * 600
    assert page_urls.page_key(long_url) == page_urls._page_key.__wrapped__(long_url, ())
    assert page_urls._page_key.cache_info().currsize == before + 1
