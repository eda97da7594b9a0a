"""Sources and devices per visit: stored as names only, capped per day, every breakdown summing to visits."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from service import create_app
from service.model.hits import Hit
from service.storage import keys

from .helpers import ADMIN, add_site
from .test_dashboard import Clock

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)
ZONE = "Asia/Ho_Chi_Minh"
KINDS = [("search", "Google", "mobile", "Chrome", "Android", "none"),
         ("social", "Zalo", "mobile", "Safari", "iOS", "Zalo"),
         ("social", "Facebook", "mobile", "Chrome", "Android", "Facebook"),
         ("direct", "", "desktop", "Edge", "Windows", "none"),
         ("referral", "baochinhphu.vn", "tablet", "Safari", "iOS", "none"),
         ("search", "Cốc Cốc", "desktop", "Cốc Cốc", "Windows", "none")]


@pytest.fixture
def app(app_config):
    return create_app({**app_config, "CLOCK": Clock(NOW), "SOURCES_PER_DAY": 50})


def visit_hits(visitor: str, at: datetime, kind: tuple, pages: int) -> list[Hit]:
    """A visit of ``pages`` pageviews; only its first carries the attribution that counts."""
    channel, source, device, browser, os_, app = kind
    return [Hit("travinh", visitor, "pageview", at + timedelta(minutes=n), ZONE, page=f"/p{n}",
                channel=channel, source=source, device=device, browser=browser, os=os_, app=app)
            for n in range(pages)]


def test_every_breakdown_sums_to_the_days_visits(app, client):
    """Over a mixed day (repeat pageviews, two visits of one visitor, pings), channels, devices, browsers,
    OS and apps each sum exactly to the visits the history counts, and each visit counts its first hit."""
    add_site(client)
    store, rng = app.extensions["store"], random.Random(7)
    hits, expected = [], {}
    for n in range(60):
        kind = KINDS[n % len(KINDS)]
        start = NOW - timedelta(hours=4) + timedelta(minutes=n)
        hits += visit_hits(f"v{n}", start, kind, rng.randint(1, 4))
        expected[kind[0]] = expected.get(kind[0], 0) + 1
        if n % 10 == 0:  # the same visitor again after the visit timeout: a second visit, from Zalo
            hits += visit_hits(f"v{n}", start + timedelta(hours=2), KINDS[1], 2)
            expected["social"] = expected.get("social", 0) + 1
        hits.append(Hit("travinh", f"v{n}", "ping", start + timedelta(minutes=5), ZONE))
    hits.sort(key=lambda h: h.at)
    for first in range(0, len(hits), 50):
        store.record_hits(hits[first:first + 50], f"mixed-{first}")
    visits = client.get("/api/v1/sites/travinh/history?days=1", headers=ADMIN).get_json()["days"][0]["visits"]
    assert visits == 66
    sources = client.get("/api/v1/sites/travinh/sources?period=today&limit=100", headers=ADMIN).get_json()
    assert sources["visits"] == visits == sum(c["visits"] for c in sources["channels"])
    assert {c["channel"]: c["visits"] for c in sources["channels"]} == expected
    assert {(s["channel"], s["name"]) for s in sources["sources"]} == {(k[0], k[1]) for k in KINDS if k[1]}
    devices = client.get("/api/v1/sites/travinh/devices?period=today", headers=ADMIN).get_json()
    for breakdown in ("devices", "browsers", "os", "apps"):
        assert sum(row["visits"] for row in devices[breakdown]) == visits, breakdown
    assert {r["name"]: r["visits"] for r in devices["apps"]}["Zalo"] == 10 + 6


def test_invented_sources_stop_at_the_daily_cap(app, client, redis_client):
    """5,000 visits from invented referrer hosts keep at most SOURCES_PER_DAY names; the rest count under
    (other) in their channel, so the channel still sums to the visits."""
    add_site(client)
    store = app.extensions["store"]
    hits = [Hit("travinh", f"flood-{n}", "pageview", NOW, ZONE, f"c{n}", page="/", channel="referral",
                source=f"{n}.invented.example", device="desktop", browser=f"Bot{n}", os=f"OS{n}", app="none")
            for n in range(5000)]
    for first in range(0, len(hits), 500):
        store.record_hits(hits[first:first + 500], f"flood-{first}")
    day = NOW.astimezone(ZoneInfo(ZONE)).date()
    for kind in ("src", "br", "os"):
        assert redis_client.hlen(keys.detail("travinh", kind, day)) <= 50 + 1, kind
    sources = client.get("/api/v1/sites/travinh/sources?period=today&limit=100", headers=ADMIN).get_json()
    assert sources["channels"] == [{"channel": "referral", "visits": 5000}]
    assert {"name": "(other)", "channel": "referral", "visits": 5000 - 50} in sources["sources"]
    assert 0 < redis_client.ttl(keys.detail("travinh", "src", day)) <= 401 * 86400


@pytest.mark.parametrize(("query", "status"), [("period=decade", 400), ("period=7d&limit=0", 400),
                                               ("period=7d&limit=101", 400), ("period=365d&limit=100", 200)])
def test_bad_periods_and_limits_are_refused(client, query, status):
    """Periods other than the documented ones, and limits outside 1 to 100, are a 400."""
    add_site(client)
    assert client.get(f"/api/v1/sites/travinh/sources?{query}", headers=ADMIN).status_code == status


def test_only_the_operator_or_the_sites_token_reads_them(client):
    """Sources and devices are not public: no token 401; another site's token 403."""
    add_site(client)
    add_site(client, "other", domains=("other.gov.vn",))
    made = client.post("/api/v1/tokens", json={"sites": ["other"]}, headers=ADMIN).get_json()
    assert client.get("/api/v1/sites/travinh/devices").status_code == 401
    assert client.get("/api/v1/sites/travinh/devices",
                      headers={"Authorization": f"Bearer {made['token']}"}).status_code == 403
    assert client.get("/api/v1/sites/other/devices",
                      headers={"Authorization": f"Bearer {made['token']}"}).status_code == 200
