"""Redis stays flat over time, keeps only hashes of visitors, and holds one site per slot."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from service.storage import keys

from .helpers import ADMIN, add_site, counters, hit
from .servers import every_server_kind  # noqa: F401  (a fixture: each test runs on every server kind)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
DAYS = 400


def simulate_days(client, days=DAYS, visitors=3):
    """Send a few visitors' hits on each of ``days`` consecutive local days."""
    start = datetime(2026, 1, 1, 9, 0, tzinfo=HCM)
    with time_machine.travel(start, tick=False) as traveller:
        add_site(client)
        for day in range(days):
            traveller.move_to(start + timedelta(days=day))
            for v in range(visitors):
                hit(client, ip=f"203.0.113.{v}", url=f"https://travinh.gov.vn/bai-{day}")
                hit(client, ip=f"203.0.113.{v}", url="https://travinh.gov.vn/")
                hit(client, ip=f"203.0.113.{v}", kind="ping")
        return counters(client)


def test_400_days_keep_keys_bounded(client, redis_client):
    """After 400 days only the compact monthly history grows; every other key expires: within days, or the
    documented 33 days (a day's pages) and DETAIL_DAYS (its sources and devices)."""
    c = simulate_days(client)
    assert (c["total"]["visits"], c["total"]["pageviews"]) == (DAYS * 3, DAYS * 6), c["total"]
    # Visitors are HyperLogLog estimates (the SPEC allows ±1%): two of a day's three visitors
    # share a register about once in 5,000 days, so an exact 1,200 would fail now and then.
    assert abs(c["total"]["visitors"] - DAYS * 3) <= DAYS * 3 // 100, c["total"]
    site_keys = [k.decode() for k in redis_client.keys("va:{travinh}:*")]
    forever = sorted(k for k in site_keys if redis_client.ttl(k) == -1)
    months = [k for k in forever if ":h:" in k]
    # All-time page views grow with the site's distinct pages (here: one a day), never per hit.
    assert forever == sorted(["va:{travinh}:cfg", "va:{travinh}:tot", "va:{travinh}:pg:all", *months]), forever
    assert len(months) == 14  # 2026-01 .. 2027-02: a hash a month is all that grows
    assert redis_client.zcard("va:{travinh}:pg:all") == DAYS + 1
    # A day's page views live 33 days past the day (the month's most read); everything else at
    # most the rest of its day plus two days, whenever it was written.
    page_days = {k: redis_client.ttl(k) for k in site_keys if ":pg:d:" in k}
    assert all(0 < ttl <= (keys.PAGE_DAYS_KEPT + 1) * 86400 for ttl in page_days.values()), page_days
    # A day's sources and devices live DETAIL_DAYS past the day (the year view): four small hashes a day.
    detail = {k: redis_client.ttl(k) for k in site_keys if k.split(":")[2] in keys.DETAILS}
    detail_days = client.application.extensions["settings"].DETAIL_DAYS
    assert all(0 < ttl <= (detail_days + 1) * 86400 for ttl in detail.values()), detail
    assert len(detail) <= len(keys.DETAILS) * DAYS
    long_lived = {k: redis_client.ttl(k) for k in site_keys
                  if k not in forever and k not in page_days and k not in detail and redis_client.ttl(k) > 3 * 86400}
    assert not long_lived, long_lived
    # Salts (today's and tomorrow's, for any zone) live under five days: old hashes cannot be recomputed.
    salts = {k: redis_client.ttl(k) for k in redis_client.keys("va:salt:*")}
    assert all(0 < ttl <= 5 * 86400 for ttl in salts.values()), salts
    biggest_month = max(redis_client.memory_usage(k) for k in months)
    assert biggest_month < 2048, biggest_month


def test_no_raw_ip_or_user_agent_is_stored(client, redis_client):
    """Scanning every key and value finds neither the client address nor its User-Agent."""
    simulate_days(client, days=3)
    client.put("/api/v1/sites/travinh/baseline", json={"visits": 5}, headers=ADMIN)
    needles = [b"203.0.113", b"Mozilla", b"Chrome/131", b"Windows NT"]
    blobs = []
    for key in redis_client.scan_iter(count=1000):
        blobs.append(key)
        kind = redis_client.type(key)
        if kind == b"string":
            blobs.append(redis_client.dump(key))
        elif kind == b"hash":
            blobs.extend(b"%s=%s" % kv for kv in redis_client.hgetall(key).items())
        elif kind == b"zset":
            blobs.extend(m for m, _ in redis_client.zrange(key, 0, -1, withscores=True))
        elif kind == b"list":
            blobs.extend(redis_client.lrange(key, 0, -1))
        elif kind == b"set":
            blobs.extend(redis_client.smembers(key))
    assert not [b for b in blobs for n in needles if n in b]
    # Not a vacuous pass: the scan read values, not only key names, and found what the same hits
    # did store (the pages they were sent from), so an address or agent stored with them would show.
    assert {b"/", b"/bai-0", b"/bai-1", b"/bai-2"} <= set(blobs)


def test_every_site_key_shares_one_cluster_slot(client, redis_client):
    """All keys of a site carry the {site} hash tag, so a hit script can run on Redis Cluster."""
    simulate_days(client, days=2)
    site_keys = redis_client.keys("va:{travinh}:*")
    assert len(site_keys) > 5
    untagged = [k for k in redis_client.keys("*") if b"{travinh}" not in k]
    # Besides: the day salts, the set of sites, and the sites list's index and catalogue (their own slot).
    assert sorted(k.split(b":")[1] for k in untagged) == [b"salt", b"salt", b"sites", b"{_sites}", b"{_sites}"]
    assert keys.site_prefix("travinh") == "va:{travinh}"
