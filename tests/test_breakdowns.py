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


ZALO_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148 Zalo iOS/441 ZaloTheme/light ZaloLanguage/vi")
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/125.0.0.0 Mobile Safari/537.36")
WINDOWS_COCCOC = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "coc_coc_browser/129.0.176 Chrome/123.0.6312.176 Safari/537.36")


def test_hits_through_the_beacon_are_attributed_to_their_visit(app, client, redis_client):
    """Real beacon hits: a Zalo in-app reader with no referrer comes from Zalo, a Google reader from search,
    a reader sent by a sibling portal is internal, a utm_source is a campaign; later pages add nothing;
    nothing but names reaches Redis."""
    from .helpers import hit

    add_site(client)
    add_site(client, "soyte", domains=("soyte.travinh.gov.vn",))
    readers = [
        ("203.0.113.1", ZALO_IOS, None, "/a"),
        ("203.0.113.2", ANDROID_CHROME, "https://www.google.com.vn/search?q=tra+vinh&oq=secret", "/a"),
        ("203.0.113.3", WINDOWS_COCCOC, "https://soyte.travinh.gov.vn/tin/1?token=abc", "/b"),
        ("203.0.113.4", ANDROID_CHROME, "https://www.google.com/", "/c?utm_source=Zalo_OA&utm_medium=social"),
        ("203.0.113.5", WINDOWS_COCCOC, "https://travinh.gov.vn/trang-chu", "/d"),
    ]
    for ip, agent, referrer, path in readers:
        extra = {"referrer": referrer} if referrer else {}
        assert hit(client, url=f"https://travinh.gov.vn{path}", ip=ip, agent=agent, **extra).status_code == 204
        # the same reader's next page, from a different referrer, changes nothing of the visit
        assert hit(client, url="https://travinh.gov.vn/e", ip=ip, agent=agent,
                   referrer="https://facebook.com/").status_code == 204
    sources = client.get("/api/v1/sites/travinh/sources?period=today", headers=ADMIN).get_json()
    assert {(s["channel"], s["name"]): s["visits"] for s in sources["sources"]} == {
        ("social", "Zalo"): 1, ("search", "Google"): 1, ("internal", "soyte.travinh.gov.vn"): 1,
        ("campaign", "zalo_oa"): 1}
    assert {c["channel"]: c["visits"] for c in sources["channels"]} == {
        "social": 1, "search": 1, "internal": 1, "campaign": 1, "direct": 1}
    devices = client.get("/api/v1/sites/travinh/devices?period=today", headers=ADMIN).get_json()
    assert {r["name"]: r["visits"] for r in devices["apps"]} == {"Zalo": 1, "none": 4}
    assert {r["name"]: r["visits"] for r in devices["devices"]} == {"mobile": 3, "desktop": 2}
    assert {r["name"]: r["visits"] for r in devices["browsers"]} == {"Chrome": 2, "Cốc Cốc": 2, "Safari": 1}
    stored = b" ".join(k + b" " + b" ".join(f + b"=" + v for f, v in redis_client.hgetall(k).items())
                       for k in redis_client.keys("va:{travinh}:*") if redis_client.type(k) == b"hash")
    for secret in (b"oq=secret", b"token=abc", b"q=tra", b"coc_coc_browser", b"Mozilla", b"203.0.113"):
        assert secret not in stored, secret


def sources_of(client) -> dict:
    answer = client.get("/api/v1/sites/travinh/sources?period=today", headers=ADMIN).get_json()
    assert answer["visits"] == sum(c["visits"] for c in answer["channels"])
    return {(s["channel"], s["name"]): s["visits"] for s in answer["sources"]}


def test_a_visit_whose_session_redis_lost_keeps_where_the_reader_came_from(app, client, redis_client):
    """A reader from Google reads a second page; Redis then loses their session (evicted under memory
    pressure, restarted empty): their third page begins a visit again, which still counts as from
    Google (their visit's source), not as 'direct' from the site's own page they clicked on."""
    from .helpers import hit

    add_site(client)
    google = "https://www.google.com.vn/search?q=tra+vinh"
    assert hit(client, url="https://travinh.gov.vn/a", agent=ANDROID_CHROME, referrer=google).status_code == 204
    app.config["CLOCK"].now += timedelta(minutes=2)
    assert hit(client, url="https://travinh.gov.vn/b", agent=ANDROID_CHROME,
               referrer="https://travinh.gov.vn/a").status_code == 204
    sessions = list(redis_client.scan_iter("va:{travinh}:s:*"))
    assert len(sessions) == 1
    redis_client.delete(*sessions)
    app.config["CLOCK"].now += timedelta(minutes=2)
    assert hit(client, url="https://travinh.gov.vn/c", agent=ANDROID_CHROME,
               referrer="https://travinh.gov.vn/b").status_code == 204
    assert client.get("/api/v1/sites/travinh/history?days=1", headers=ADMIN).get_json()["days"][0]["visits"] == 2
    assert sources_of(client) == {("search", "Google"): 2}


def test_a_reader_back_after_the_visit_timeout_is_attributed_afresh(app, client):
    """A reader from Google, back 31 minutes later from Zalo in the same browser: two visits, one from
    each (what this worker remembers of a visit is never reused past the visit timeout)."""
    from .helpers import hit

    add_site(client)
    assert hit(client, url="https://travinh.gov.vn/a", agent=ANDROID_CHROME,
               referrer="https://www.google.com/").status_code == 204
    app.config["CLOCK"].now += timedelta(minutes=29, seconds=30)  # within the visit, past what is trusted
    assert hit(client, url="https://travinh.gov.vn/b", agent=ANDROID_CHROME,
               referrer="https://www.bing.com/").status_code == 204
    app.config["CLOCK"].now += timedelta(minutes=31)
    assert hit(client, url="https://travinh.gov.vn/c", agent=ANDROID_CHROME,
               referrer="https://zalo.me/").status_code == 204
    assert sources_of(client) == {("search", "Google"): 1, ("social", "Zalo"): 1}


def test_what_a_worker_remembers_of_ongoing_visits_is_bounded():
    """At most max_visitors readers are remembered; the least recently counted go first."""
    from service.ingest.attribution import OngoingVisits

    ongoing = OngoingVisits(1800, max_visitors=100)
    hits = [Hit("travinh", f"v{n}", "pageview", NOW + timedelta(seconds=n), ZONE, channel="search", source="Google",
                device="mobile", browser="Chrome", os="Android", app="none") for n in range(250)]
    ongoing.counted(hits, ["visit"] * 250)
    assert len(ongoing) == 100
    later = NOW + timedelta(minutes=5)
    assert ongoing.attribution("v149", later) is None
    assert ongoing.attribution("v150", later) == ("search", "Google", "mobile", "Chrome", "Android", "none")
    assert ongoing.attribution("v150", NOW + timedelta(minutes=32)) is None  # 29.5 min on: past 1,740 s
