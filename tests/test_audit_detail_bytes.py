"""A flood of invented sources and browsers costs a past day a few KiB: the per-visit detail of a day
is folded to its top names once the day is past, and still sums to the day's visits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from service.model.hits import Hit
from service.storage import keys

from .helpers import add_site

ZONE = "Asia/Ho_Chi_Minh"
DAY1 = datetime(2026, 11, 27, 5, 0, tzinfo=timezone.utc)
DETAIL_CEILING_PER_SITE = 40 * 2**20
"""docs/sizing.md: the per-visit detail a flooded site can reach over DETAIL_DAYS (400)."""


def flood(store, at: datetime, tag: str, count: int) -> None:
    bold = "𝐀" * 90
    hits = [Hit("travinh", f"{tag}-{n}", "pageview", at, ZONE, f"c{n}", page="/a", channel="campaign",
                source=f"{bold}{tag}{n}", device="mobile", browser=f"Zz{tag}{n}qwertyuiopasdfghjklzxcvbnm",
                os=f"Os{tag}{n}", app="none") for n in range(count)]
    for first in range(0, len(hits), 500):
        store.record_hits(hits[first:first + 500], f"{tag}-{first}")


def test_a_flooded_day_shrinks_once_past_and_keeps_its_sums(app, client, redis_client):
    """A day of 1,000 invented sources, browsers and OS holds them all while it is today; the next day's
    first visit folds it to its top names plus '(other)', its total unchanged, small enough that
    DETAIL_DAYS of such days stay within the sizing page's ceiling."""
    store, settings = app.extensions["store"], app.extensions["settings"]
    add_site(client)
    flood(store, DAY1, "a", settings.SOURCES_PER_DAY)
    day1 = DAY1.astimezone(ZoneInfo(ZONE)).date()
    source_key = keys.detail("travinh", "src", day1)
    assert redis_client.hlen(source_key) >= settings.SOURCES_PER_DAY
    before = {kind: sum(int(v) for v in redis_client.hvals(keys.detail("travinh", kind, day1)))
              for kind in ("src", "br", "os")}
    flood(store, DAY1 + timedelta(days=1), "b", 1)  # the next day's first visit
    for kind in ("src", "br", "os"):
        key = keys.detail("travinh", kind, day1)
        assert redis_client.hlen(key) <= keys.DETAIL_KEPT_PER_PAST_DAY + 8, kind
        assert sum(int(v) for v in redis_client.hvals(key)) == before[kind], kind
    assert int(redis_client.hget(source_key, "campaign|(other)")) >= settings.SOURCES_PER_DAY - 100
    past_bytes = sum(redis_client.memory_usage(keys.detail("travinh", kind, day1)) for kind in keys.DETAILS)
    assert past_bytes * settings.DETAIL_DAYS <= DETAIL_CEILING_PER_SITE, past_bytes
    total = client.get("/api/v1/sites/travinh/counters").get_json()["total"]["visits"]
    assert total == settings.SOURCES_PER_DAY + 1 == before["src"] + 1  # every visit of both days, once
