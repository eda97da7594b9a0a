"""Everything an anonymous reader can grow is bounded: a flood of invented pages day after day leaves
the site's all-time keys at their cap, and every per-day key with a cap and an expiry."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest

from service.model.hits import Hit
from service.model.sites import Site
from service.storage import CounterStore, Limits, keys

START = datetime(2026, 10, 1, 3, 0, tzinfo=timezone.utc)
ALL_TIME, PER_DAY = 500, 400
REAL = [f"/tin-tuc/bai-{n}" for n in range(20)]


def site_bytes(client, site: str, pattern: str = "*") -> int:
    """MEMORY USAGE summed over the site's keys matching ``pattern``."""
    match = keys.site_prefix(site).replace("{", "\\{").replace("}", "\\}") + ":" + pattern
    return sum(client.memory_usage(k, samples=0) or 0 for k in client.scan_iter(match=match, count=1000))


@pytest.fixture
def store(redis_url):
    store = CounterStore.from_url(redis_url, Limits(300, 1800, 10_000, pages_per_day=PER_DAY,
                                                    pages_all_time=ALL_TIME))
    store.put_site(Site("flood", ("flood.gov.vn",), "Asia/Ho_Chi_Minh"))
    return store


def flood_day(store, day: int) -> None:
    """One simulated day: 300 invented 400-character pages with long titles, one view each, and 20 real
    articles read 5 times each, in batches of 500 as the flusher writes them."""
    at = START + timedelta(days=day)
    hits = [Hit("flood", secrets.token_hex(8), "pageview", at, "Asia/Ho_Chi_Minh",
                page="/x/" + secrets.token_hex(199), title="T" * 200, link="/X/" + secrets.token_hex(8))
            for _ in range(300)]
    hits += [Hit("flood", f"reader-{day}-{r}", "pageview", at + timedelta(seconds=r), "Asia/Ho_Chi_Minh",
                 page=page, title=f"Bài {page}") for page in REAL for r in range(5)]
    secrets.SystemRandom().shuffle(hits)
    for first in range(0, len(hits), 500):
        store.record_hits(hits[first:first + 500], f"day-{day}-{first}")


def test_a_flood_of_invented_pages_stays_within_the_caps(store, redis_client):
    """Over 12 simulated days of floods, the all-time pages, titles and links stay at PAGES_ALL_TIME and
    their bytes flat; the real articles (more views) are never pushed out and keep exact counts."""
    sizes = []
    for day in range(12):
        flood_day(store, day)
        sizes.append(site_bytes(redis_client, "flood", "pg:[atl]*"))
        assert redis_client.zcard(keys.pages_all("flood")) <= ALL_TIME
        assert redis_client.hlen(keys.page_titles("flood")) <= ALL_TIME
        assert redis_client.hlen(keys.page_links("flood")) <= ALL_TIME
        assert redis_client.zcard(keys.pages_day("flood", (START + timedelta(days=day)).date())) <= PER_DAY
    views = dict(redis_client.zrange(keys.pages_all("flood"), 0, -1, withscores=True))
    assert {page: views[page.encode()] for page in REAL} == {page: 5.0 * 12 for page in REAL}
    top = store.top_pages(store.get_site("flood"), "all", 20, START + timedelta(days=11), 0)
    assert sorted(p["path"] for p in top) == sorted(REAL) and {p["views"] for p in top} == {60}
    assert all(p["title"] for p in top)
    assert int(redis_client.hget(keys.pages_floor("flood"), "views")) == 1  # only one-view pages went
    saturated = sizes[2:]  # full from day 2 on: 300 new pages a day against a cap of 500
    assert max(saturated) <= min(saturated) * 1.15, sizes


def test_every_per_day_key_expires(store, redis_client):
    """After a flooded day every key but the documented forever ones (settings, totals, history, the
    capped all-time pages) carries an expiry no longer than the longest documented lifetime."""
    flood_day(store, 0)
    forever = {b"cfg", b"tot", b"pg:all", b"pg:t", b"pg:l", b"pg:floor"}
    prefix = keys.site_prefix("flood").encode() + b":"
    for key in redis_client.scan_iter(match=prefix.replace(b"{", b"\\{").replace(b"}", b"\\}") + b"*"):
        name = key[len(prefix):]
        if name in forever or name.startswith(b"h:"):
            assert redis_client.ttl(key) == -1, key
            continue
        ttl = redis_client.ttl(key)
        longest = max(keys.PAGE_DAYS_KEPT, keys.NOT_COUNTED_DAYS_KEPT, keys.SALT_KEEP_DAYS,
                      store.limits.detail_days) + 1
        assert 0 < ttl <= longest * 86400, (key, ttl)


def test_a_page_baseline_import_respects_the_cap(store, redis_client):
    """An import larger than PAGES_ALL_TIME keeps the most viewed pages only, titles with them."""
    rows = [(f"/cu/{n}", n + 1) for n in range(ALL_TIME + 300)]
    for first in range(0, len(rows), 250):
        store.set_page_baselines("flood", rows[first:first + 250])
    kept = redis_client.zrange(keys.pages_all("flood"), 0, -1, withscores=True)
    assert len(kept) == ALL_TIME and min(score for _, score in kept) == 301
