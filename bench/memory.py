"""Section 4: Redis memory per site after a million hits, and after 400 simulated days."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import random
import secrets
import time
from zoneinfo import ZoneInfo

import redis

from service.storage import keys
from service.model.sites import Site
from service.model.hits import Hit
from service.storage import CounterStore, Limits

from .launch import Bench, log
from .report import Section, table

KEY_CLASSES = {
    "cfg": "settings (forever)", "tot": "all-time totals (forever)", "base": "baseline (forever)",
    "h": "history month hashes (forever)", "u": "day visitors HLL (day + 2 days)",
    "on": "online zset (5 min)", "s": "visit sessions and per-visitor minute caps (30 min)",
    "ip": "per-address minute caps (2 min)",
    "b": "batch markers (10 min)",
}
"""Key classes by the name part after the site (see service/storage/keys.py), and their lifetimes."""
PERSISTENT = ("cfg", "tot", "base", "h")
ZONE = "Asia/Ho_Chi_Minh"


def site_memory(client: redis.Redis, site: str) -> dict[str, list[int]]:
    """Keys and MEMORY USAGE bytes of one site, by key class."""
    by_class: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])

    def account(names):
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name, samples=0)
        for name, size in zip(names, pipe.execute()):
            kind = name.decode().removeprefix(keys.site_prefix(site) + ":").split(":", 1)[0]
            by_class[kind][0] += 1
            by_class[kind][1] += size or 0

    batch = []
    for name in client.scan_iter(match=keys.site_prefix(site) + ":*", count=2000):
        batch.append(name)
        if len(batch) >= 2000:
            account(batch)
            batch = []
    if batch:
        account(batch)
    return dict(by_class)


def direct_store(bench: Bench) -> CounterStore:
    """A store writing to the benchmark's Redis with a per-visitor cap nothing reaches, no per-address limit."""
    wanted = {"online_window_seconds": 300, "visit_timeout_seconds": 1800, "visitor_hits_per_minute": 1_000_000,
              "address_hits_per_minute": 0}
    limits = Limits(**{f.name: wanted[f.name] for f in dataclasses.fields(Limits) if f.name in wanted})
    return CounterStore.from_url(bench.store.url, limits, timeout_seconds=60)


def write(store: CounterStore, label: str, hits_iter, total: int, every: int = 100_000) -> float:
    """Write hits through ``record_hits`` in batches of 500; answer the seconds it took."""
    started, batch, written = time.monotonic(), [], 0
    for hit in hits_iter:
        batch.append(hit)
        if len(batch) == 500:
            store.record_hits(batch, secrets.token_hex(8))
            written += len(batch)
            batch = []
            if written % every == 0:
                log(f"  {label}: {written:,}/{total:,} hits")
    if batch:
        store.record_hits(batch, secrets.token_hex(8))
    return time.monotonic() - started


def measure(bench: Bench) -> list[dict]:
    args, client = bench.args, bench.store.client
    client.flushall()
    store = direct_store(bench)
    rng = random.Random(7)

    def scenario(site: str, label: str, hits_iter, total: int, visitors: int, days: int) -> dict:
        store.put_site(Site(site, (f"{site}.example.vn",), ZONE))
        used0 = int(client.info("memory")["used_memory"])
        seconds = write(store, f"memory {site}", hits_iter, total)
        used1 = int(client.info("memory")["used_memory"])
        totals = client.hgetall(keys.total(site))
        return {"site": site, "label": label, "hits": total, "visitors": visitors, "days": days,
                "seconds": seconds, "used_memory_delta": used1 - used0, "by_class": site_memory(client, site),
                "totals": {k.decode(): int(v) for k, v in totals.items()}}

    # 1) One million hits into one site within the last hour, from many visitors.
    n, visitors = args.memory_hits, max(1, args.memory_hits // 4)
    pool = [secrets.token_hex(12) for _ in range(visitors)]
    now = dt.datetime.now(dt.timezone.utc)
    start = now - dt.timedelta(hours=1)
    one_day = (Hit("mem-1m", rng.choice(pool), "pageview", start + dt.timedelta(seconds=3600 * i / n), ZONE)
               for i in range(n))
    log(f"memory: {n:,} hits into one site ({visitors:,} visitors)")
    results = [scenario("mem-1m", f"{n:,} hits in one hour", one_day, n, visitors, 1)]

    # 2) 400 simulated days: hits spread over 400 local days (noon ± 10 h), a fresh crowd each day.
    days, per_day = 400, args.memory_hits_per_day
    tz = ZoneInfo(ZONE)
    today = now.astimezone(tz).date()

    def many_days():
        for back in range(days - 1, -1, -1):
            day = today - dt.timedelta(days=back)
            noon = dt.datetime.combine(day, dt.time(12), tzinfo=tz).astimezone(dt.timezone.utc)
            crowd = [secrets.token_hex(12) for _ in range(max(1, per_day // 4))]
            for i in range(per_day):
                at = noon + dt.timedelta(seconds=-36000 + 72000 * i / per_day)
                yield Hit("mem-400d", rng.choice(crowd), "pageview", min(at, now), ZONE)

    log(f"memory: {days} days × {per_day:,} hits into one site")
    results.append(scenario("mem-400d", f"{days} days × {per_day:,} hits", many_days(), days * per_day,
                            days * max(1, per_day // 4), days))
    store.redis.close()
    return results


def memory_tables(results: list[dict]) -> str:
    summary, detail = [], []
    for r in results:
        total_bytes = sum(b for _, b in r["by_class"].values())
        key_count = sum(k for k, _ in r["by_class"].values())
        persistent = sum(r["by_class"].get(c, [0, 0])[1] for c in PERSISTENT)
        persistent_keys = sum(r["by_class"].get(c, [0, 0])[0] for c in PERSISTENT)
        summary.append([r["label"], f"{r['hits']:,}", f"{r['seconds']:.0f} s ({r['hits'] / r['seconds']:,.0f} hits/s)",
                        f"{key_count:,}", f"{total_bytes / 1024:,.1f} KiB", f"{r['used_memory_delta'] / 1024:,.1f} KiB",
                        f"{persistent_keys} keys, {persistent / 1024:,.1f} KiB",
                        ", ".join(f"{k} {v:,}" for k, v in r["totals"].items())])
        for kind, (count, size) in sorted(r["by_class"].items(), key=lambda kv: -kv[1][1]):
            detail.append([r["label"], KEY_CLASSES.get(kind, kind), f"{count:,}", f"{size / 1024:,.1f} KiB",
                           f"{size / count:,.0f}" if count else "–"])
    return (table(["scenario", "hits", "write time (direct, batches of 500)", "site keys",
                   "Σ MEMORY USAGE", "INFO used_memory Δ", "of which forever (cfg, tot, base, h)",
                   "site totals"], summary)
            + "\n\n" + table(["scenario", "key class (lifetime)", "keys", "bytes", "bytes/key"], detail))


def run(bench: Bench) -> list[Section]:
    results = measure(bench)
    bench.raw["memory"] = results
    intro = ("Hits written straight through `CounterStore.record_hits` in batches of 500 (no HTTP), "
             "VISITOR_HITS_PER_MINUTE=1,000,000, no per-address limit. `MEMORY USAGE <key> SAMPLES 0` summed over "
             "`SCAN MATCH va:{site}:*`, and `INFO memory` used_memory before/after. Lifetimes are measured "
             "from the moment of writing, so the short-lived classes (sessions, batch "
             "markers, and in the 400-day scenario the day HLLs) are all still alive here; in steady state "
             "only the 'forever' classes accumulate, plus the last ~3 days' HLLs and the last 30 min's "
             "sessions.")
    return [Section("Redis memory per site", intro, memory_tables(results))]
