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


def test_a_midnight_batch_over_many_sites_folds_a_few_past_days_and_the_next_batches_the_rest(app, client, redis_client):
    """The first batch after midnight holds every busy site's first visit: it folds at most
    PAST_DAY_TRIMS_PER_CALL past days' hashes (a script call folding them all held Redis ~0.7 s at 100
    sites), the next batches fold the others, and every past day keeps its sums."""
    store = app.extensions["store"]
    sites = [f"xa-{n:02d}" for n in range(12)]
    for site in sites:
        add_site(client, site, (f"{site}.gov.vn",))
    names = keys.DETAIL_KEPT_PER_PAST_DAY + 20
    day1 = DAY1.astimezone(ZoneInfo(ZONE)).date()
    for site in sites:
        store.record_hits([Hit(site, f"r{n}", "pageview", DAY1, ZONE, page="/a", channel="referral",
                               source=f"nguon-{n}.vn", device="mobile", browser=f"B{n}", os=f"O{n}", app="none")
                           for n in range(names)], f"{site}-day1")
    past = [keys.detail(site, kind, day1) for site in sites for kind in ("src", "br", "os")]
    sums = {key: sum(int(v) for v in redis_client.hvals(key)) for key in past}
    folded = []
    for batch in range(8):
        store.record_hits([Hit(site, f"next-{batch}", "pageview", DAY1 + timedelta(days=1, minutes=batch), ZONE,
                               page="/a") for site in sites], f"day2-{batch}")
        folded.append(sum(redis_client.hlen(key) <= keys.DETAIL_KEPT_PER_PAST_DAY + 8 for key in past))
    assert folded[0] == keys.PAST_DAY_TRIMS_PER_CALL
    assert folded == sorted(folded) and folded[-1] == len(past)
    assert {key: sum(int(v) for v in redis_client.hvals(key)) for key in past} == sums
