"""Section: a province's day on one service (bench/run.py --only province).

A thousand sites of Zipf-distributed sizes (a province portal, departments, districts, communes),
articles read with a long tail, invented URLs, crawler traffic turned away, written through the
real write path (CounterStore.record_hits, batches of 500, as the recorder sends them). Reports the
write path's CPU per hit (client and Redis), Redis bytes per site, and the sites list's and the
operator screen's time and Redis round trips at 10, 100 and 1,000 sites.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
import time
from zoneinfo import ZoneInfo

from prometheus_client import REGISTRY

from service import create_app
from service.model.hits import Hit
from service.model.sites import Site
from service.storage import CounterStore, Limits

from .launch import Bench, log
from .report import Section, table

ZONE = "Asia/Ho_Chi_Minh"
SIZES = (10, 100, 1000)
HITS_PER_SITE = 200
"""Mean counted hits per site in the day (the biggest site gets thousands, the smallest a handful)."""
TOKEN = "bench-admin-token-of-at-least-32-characters"
REPEATS = 5
FLUSH_BATCH = 26
"""Hits a worker's 20 ms flush holds at ~1,300 hits/s (bench/hit.py's default mode, 2 workers)."""


def round_trips() -> float:
    return sum(s.value for m in REGISTRY.collect() if m.name == "va_redis_seconds"
               for s in m.samples if s.name == "va_redis_seconds_count")


def day_of_hits(sites: list[Site], total: int, rng: random.Random, now: dt.datetime):
    """``total`` counted hits over the last 20 hours: sites by Zipf weight, articles by Zipf per site,
    one hit in 20 an invented URL, readers coming back."""
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(sites))]
    chosen = rng.choices(range(len(sites)), weights, k=total)
    readers = {i: [secrets.token_hex(12) for _ in range(max(2, int(40 * weights[i] * len(sites) ** 0.5)))]
               for i in set(chosen)}
    article_weights = [1 / (n + 1) for n in range(2000)]
    articles = rng.choices(range(2000), article_weights, k=total)
    start = now - dt.timedelta(hours=20)
    for n, i in enumerate(chosen):
        site = sites[i]
        page = f"/tin-tuc/bai-{articles[n]}" if n % 20 else f"/x/{secrets.token_hex(6)}"  # invented URLs
        yield Hit(site.id, rng.choice(readers[i]), "pageview" if n % 7 else "ping",
                  start + dt.timedelta(seconds=72000 * n / total), ZONE, "", page=page if n % 7 else "",
                  title=f"Bài {articles[n]}" if n % 7 else "", group=site.group,
                  group_visitor=secrets.token_hex(12) if site.group and n % 3 == 0 else "", group_zone=ZONE)


def hits_per_group(hits: list[Hit], batch_size: int) -> float:
    """Mean hits a site and local day of a batch (a group of record_hits.lua's call) has, in batches of ``batch_size``."""
    calls = sum(len({(h.site, h.local_day()) for h in hits[first:first + batch_size]})
                for first in range(0, len(hits), batch_size))
    return len(hits) / calls


def measure_size(bench: Bench, count: int, rng: random.Random, per_group: float | None = None,
                 batch: int = 500) -> dict:
    """Write a day of ``count`` sites in batches of ``batch`` (or of the size that gives ``per_group`` hits
    a site and day of a batch), then time the reads."""
    client = bench.store.client
    client.flushall()
    limits = Limits(online_window_seconds=300, visit_timeout_seconds=1800, visitor_hits_per_minute=1_000_000)
    store = CounterStore.from_url(bench.store.url, limits, timeout_seconds=60)
    sites = [Site(f"xa-{n:04d}", (f"xa{n}.travinh.gov.vn",), ZONE, group=f"huyen-{n // 100}") for n in range(count)]
    store.put_sites(sites)
    used0 = int(client.info("memory")["used_memory"])
    cpu0 = client.info("cpu")
    hits = list(day_of_hits(sites, count * HITS_PER_SITE, rng, dt.datetime.now(dt.timezone.utc)))
    size = batch if per_group is None else min(range(1, 501), key=lambda n: abs(hits_per_group(hits, n) - per_group))
    client_cpu, wall = time.process_time(), time.monotonic()
    for first in range(0, len(hits), size):
        store.record_hits(hits[first:first + size], secrets.token_hex(8))
    client_cpu, wall = time.process_time() - client_cpu, time.monotonic() - wall
    cpu1 = client.info("cpu")
    redis_cpu = sum(cpu1[k] - cpu0[k] for k in ("used_cpu_sys", "used_cpu_user"))
    used = int(client.info("memory")["used_memory"]) - used0
    # Crawlers are turned away before the write path: only each site's not-counted tally is written.
    today = dt.datetime.now(ZoneInfo(ZONE)).date()
    store.record_drops({(s.id, ZONE, today): {"bot": HITS_PER_SITE // 10} for s in sites})

    app = create_app({"REDIS_URL": bench.store.url, "ADMIN_TOKEN": TOKEN, "COUNTERS_CACHE_SECONDS": 0,
                      "SITE_CACHE_SECONDS": 0, "FLUSH_INTERVAL_MS": 0, "JOURNAL_DIR": str(bench.workdir / "journal")})
    web = app.test_client()
    form = web.get("/dashboard/signin").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    web.post("/dashboard/signin", data={"csrf": csrf, "token": TOKEN})
    calls = {"list ?limit=100": "/api/v1/sites?limit=100", "list ?sort=-today": "/api/v1/sites?limit=100&sort=-today",
             "list ?q=xa1": "/api/v1/sites?q=xa1", "operator screen": "/dashboard",
             "operator screen ?sort=today": "/dashboard?sort=today&dir=desc", "sites.csv": "/dashboard/sites.csv"}
    timings = {}
    for name, path in calls.items():
        headers = {"Authorization": f"Bearer {TOKEN}"} if path.startswith("/api") else {}
        seconds, trips = [], 0.0
        for _ in range(REPEATS):
            before, started = round_trips(), time.perf_counter()
            answer = web.get(path, headers=headers)
            seconds.append(time.perf_counter() - started)
            trips = round_trips() - before
            assert answer.status_code == 200, (path, answer.status_code)
        timings[name] = {"ms": sorted(seconds)[len(seconds) // 2] * 1000, "round_trips": trips}
    app.extensions["recorder"].close()
    return {"sites": count, "hits": len(hits), "batch": size, "hits_per_group": hits_per_group(hits, size),
            "client_us_per_hit": client_cpu / len(hits) * 1e6,
            "redis_us_per_hit": redis_cpu / len(hits) * 1e6, "wall_s": wall, "bytes_per_site": used / count,
            "calls": timings}


def run(bench: Bench) -> list[Section]:
    rng = random.Random(23)
    results = []
    for count in SIZES:
        log(f"province: {count} sites, {count * HITS_PER_SITE:,} hits")
        results.append(measure_size(bench, count, rng))
    # The control: 10 sites in batches small enough that a site of a batch has as few hits as at 1,000 sites.
    log("province: 10 sites, batches as thin as at 1,000 sites")
    results.append(measure_size(bench, SIZES[0], rng, per_group=results[-1]["hits_per_group"]))
    # What a worker flushes every 20 ms at ~1,300 hits/s (the image's defaults under load).
    log(f"province: {SIZES[-1]} sites, batches of {FLUSH_BATCH}")
    results.append(measure_size(bench, SIZES[-1], rng, batch=FLUSH_BATCH))
    bench.raw["province"] = results
    writes = table(["sites", "hits", "batch", "hits a site of a batch", "client CPU µs/hit", "Redis CPU µs/hit",
                    "write wall s", "Redis bytes/site"],
                   [[r["sites"], f"{r['hits']:,}", r["batch"], f"{r['hits_per_group']:.1f}",
                     f"{r['client_us_per_hit']:.1f}", f"{r['redis_us_per_hit']:.1f}",
                     f"{r['wall_s']:.1f}", f"{r['bytes_per_site']:,.0f}"] for r in results])
    names = list(results[0]["calls"])
    reads = table(["call", *(f"{r['sites']} sites: ms / round trips" for r in results[:len(SIZES)])],
                  [[name, *(f"{r['calls'][name]['ms']:.1f} / {r['calls'][name]['round_trips']:.0f}"
                            for r in results[:len(SIZES)])] for name in names])
    intro = ("A day of Zipf-sized sites (articles with a long tail, one hit in 20 an invented URL, one in 7 a ping) "
             f"written through CounterStore.record_hits (one script call a batch) in batches of 500, then of "
             f"{FLUSH_BATCH} at 1,000 sites, {HITS_PER_SITE} hits a site on average; "
             "then the sites list and the operator screen read through the app (median of 5, Flask test client, "
             "round trips counted by va_redis_seconds).")
    return [Section("A province on one service", intro, writes + "\n\n" + reads)]


if __name__ == "__main__":  # a quick run against a private redis-server: python -m bench.province
    import sys
    import tempfile
    from pathlib import Path

    from .launch import Redis
    from .report import Section as _S  # noqa: F401

    work = Path(tempfile.mkdtemp(prefix="va-province-"))
    bench = Bench(Redis(work / "redis").start(), work, None)
    try:
        for section in run(bench):
            print(f"## {section.title}\n\n{section.intro}\n\n{section.body}")
    finally:
        bench.store.stop()
    sys.exit(0)
