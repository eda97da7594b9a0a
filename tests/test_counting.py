"""Counting rules of the SPEC, each asserted on the numbers a widget would show."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from .conftest import CHROME
from .helpers import ADMIN, add_site, counters, hit
from .servers import every_server_kind  # noqa: F401  (a fixture: each test runs on every server kind)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BERLIN = ZoneInfo("Europe/Berlin")


def at(*args, tz=HCM):
    return datetime(*args, tzinfo=tz)


@pytest.fixture
def travel():
    """Freeze the clock at a Saturday afternoon in Ho Chi Minh City; shift it with .shift()."""
    with time_machine.travel(at(2026, 11, 28, 14, 0), tick=False) as traveller:
        yield traveller


def test_first_hit_counts_one_visit_pageview_visitor_and_online(client, travel):
    """One page view shows as 1 everywhere, in every period."""
    add_site(client)
    assert hit(client).status_code == 204
    c = counters(client)
    one = {"visits": 1, "pageviews": 1, "visitors": 1}
    assert (c["online"], c["today"], c["week"], c["total"]) == (1, one, one, one)
    assert c["site"] == "travinh" and c["timezone"] == "Asia/Ho_Chi_Minh" and c["stale"] is False
    assert c["as_of"] == "2026-11-28T14:00:00+07:00"


def test_reload_within_session_adds_pageview_not_visit(client, travel):
    """Reloading a page does not inflate visits."""
    add_site(client)
    for _ in range(3):
        hit(client)
        travel.shift(timedelta(minutes=10))
    assert counters(client)["today"] == {"visits": 1, "pageviews": 3, "visitors": 1}


def test_session_slides_and_expires_after_30_minutes_of_silence(client, travel):
    """Hits every 20 minutes stay one visit; a 31-minute gap starts a second one."""
    add_site(client)
    for _ in range(6):
        hit(client)
        travel.shift(timedelta(minutes=20))
    assert counters(client)["today"]["visits"] == 1
    travel.shift(timedelta(minutes=11))  # 31 minutes since the last hit
    hit(client)
    assert counters(client)["today"] == {"visits": 2, "pageviews": 7, "visitors": 1}


def test_distinct_visitors_by_address_and_agent(client, travel):
    """Another address or another browser is another visitor; the same pair is not."""
    add_site(client)
    hit(client, ip="203.0.113.7")
    hit(client, ip="203.0.113.8")
    hit(client, ip="203.0.113.7", agent=CHROME.replace("131", "130"))
    hit(client, ip="203.0.113.7")
    c = counters(client)
    assert c["today"] == {"visits": 3, "pageviews": 4, "visitors": 3}
    assert c["online"] == 3


def test_online_drops_after_window(client, travel):
    """A visitor is online for five minutes after the last hit, then not."""
    add_site(client)
    hit(client)
    travel.shift(timedelta(seconds=299))
    assert counters(client)["online"] == 1
    travel.shift(timedelta(seconds=2))
    assert counters(client)["online"] == 0


def test_ping_keeps_reader_online_and_counts_nothing_else(client, travel):
    """A long read with pings stays online; pings add no pageview or visit."""
    add_site(client)
    hit(client)
    for _ in range(5):
        travel.shift(timedelta(minutes=2))
        assert hit(client, kind="ping").status_code == 204
    c = counters(client)
    assert c["online"] == 1
    assert c["today"] == {"visits": 1, "pageviews": 1, "visitors": 1}
    travel.shift(timedelta(minutes=6))
    assert counters(client)["online"] == 0


def test_ping_without_pageview_counts_nothing(client, travel):
    """A ping alone shows the visitor online but counts no visit."""
    add_site(client)
    hit(client, kind="ping")
    c = counters(client)
    assert c["online"] == 1 and c["total"] == {"visits": 0, "pageviews": 0, "visitors": 0}


@pytest.mark.parametrize(("agent", "headers", "reason"), [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", {}, "bot"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
     "Safari/537.36", {}, "bot"),
    ("curl/8.5.0", {}, "bot"),
    ("python-requests/2.32.3", {}, "bot"),
    ("", {}, "no_user_agent"),
    ("   ", {}, "no_user_agent"),
    (CHROME, {"Sec-Purpose": "prefetch;prerender"}, "prefetch"),
    (CHROME, {"Sec-Purpose": "prefetch"}, "prefetch"),
    (CHROME, {"Purpose": "prefetch"}, "prefetch"),
    (CHROME, {"X-Moz": "prefetch"}, "prefetch"),
    (CHROME, {}, None),
])
def test_drop_reasons(client, redis_client, travel, agent, headers, reason):
    """Crawlers, headless browsers, empty agents and prefetches answer 204, uncounted, with the reason."""
    add_site(client)
    keys_before = set(redis_client.keys("*"))
    response = hit(client, agent=agent, headers=headers)
    assert response.status_code == 204
    assert response.headers.get("X-Not-Counted") == reason
    expected = 0 if reason else 1
    assert counters(client)["total"]["pageviews"] == expected
    if reason:
        assert_only_tallied(redis_client, keys_before, {reason: 1})


def assert_only_tallied(redis_client, keys_before: set, tally: dict) -> None:
    """Nothing but the day's not-counted tally (one small hash per site and day) was written."""
    new = set(redis_client.keys("*")) - keys_before
    tallies = {k for k in new if b":nc:" in k}
    assert new == tallies and len(tallies) == 1, new
    assert {k.decode(): int(v) for k, v in redis_client.hgetall(tallies.pop()).items()} == tally


def test_foreign_domain_answers_204_uncounted_and_creates_no_key(client, redis_client, travel):
    """A hit claiming someone else's page is not counted and leaves Redis untouched but its tally."""
    add_site(client)
    keys_before = set(redis_client.keys("*"))
    response = hit(client, url="https://evil.example/travinh.gov.vn")
    assert response.status_code == 204 and response.headers["X-Not-Counted"] == "foreign_domain"
    assert_only_tallied(redis_client, keys_before, {"foreign_domain": 1})


@pytest.mark.parametrize(("domains", "url", "counted"), [
    (["travinh.gov.vn"], "https://travinh.gov.vn/a", True),
    (["travinh.gov.vn"], "http://TRAVINH.gov.vn:8080/a", True),
    (["travinh.gov.vn"], "https://www.travinh.gov.vn/a", False),
    (["travinh.gov.vn"], "https://travinh.gov.vn.evil.example/a", False),
    (["*.travinh.gov.vn"], "https://sgd.travinh.gov.vn/a", True),
    (["*.travinh.gov.vn"], "https://a.b.travinh.gov.vn/a", True),
    (["*.travinh.gov.vn"], "https://travinh.gov.vn/a", False),
    (["*.travinh.gov.vn"], "https://eviltravinh.gov.vn/a", False),
    (["localhost"], "http://localhost:5000/", True),
    (["127.0.0.1"], "http://127.0.0.1:8000/x", True),
    (["::1"], "http://[::1]:8000/x", True),
    (["bộ.vn"], "https://xn--b-8xm.vn/", True),
    (["bộ.vn"], "https://bộ.vn/", True),
    # IDNA 2008 (UTS 46, non-transitional), as browsers encode; expected forms checked with
    # Node's WHATWG URL parser, the one browsers follow.
    (["straße.de"], "https://xn--strae-oqa.de/", True),
    (["straße.de"], "https://strasse.de/", False),
    (["ελληνικός.gr"], "https://xn--qxaegecap6byf.gr/", True),
    (["ΕΛΛΗΝΙΚΌΣ.GR"], "https://xn--qxaegecap4c9d.gr/", True),
    (["tỉnhtràvinh.vn"], "https://xn--tnhtrvinh-u1a6335f.vn/", True),
    (["*.sởgiáodục.vn"], "https://www.xn--sgiodc-rta5352dyba.vn/", True),
])
def test_domain_matching(client, travel, domains, url, counted):
    """A page counts when its host (any port) is listed; *.x matches subdomains of x only."""
    add_site(client, domains=domains)
    response = hit(client, url=url)
    assert response.status_code == 204
    assert ("X-Not-Counted" not in response.headers) is counted


@pytest.mark.parametrize(("origin", "counted"), [
    (None, True),                                 # the <noscript> pixel, curl: no Origin
    ("https://travinh.gov.vn", True),             # the portal's own page
    ("https://www.travinh.gov.vn:8443", True),    # any of its domains, any port
    ("https://evil.example", False),              # someone else's page posting the portal's URL
    ("null", False),                              # a sandboxed frame or a file:// page
    ("not a url", False),
])
def test_origin_must_be_one_of_the_sites_domains(client, redis_client, travel, origin, counted):
    """A browser's Origin is checked like the page URL: a hostile page cannot count for another site."""
    add_site(client)
    keys_before = set(redis_client.keys("*"))
    response = hit(client, headers={"Origin": origin} if origin else {})
    assert response.status_code == 204
    assert response.headers.get("X-Not-Counted") == (None if counted else "foreign_domain")
    if not counted:
        assert_only_tallied(redis_client, keys_before, {"foreign_domain": 1})


def test_visitor_hit_cap_per_minute(client, travel):
    """A visitor's hits beyond 60 a minute are answered 204 but not counted."""
    add_site(client)
    outcomes = [hit(client).headers.get("X-Not-Counted") for _ in range(65)]
    assert outcomes[:60] == [None] * 60 and outcomes[60:] == ["rate_limited"] * 5
    assert counters(client)["today"]["pageviews"] == 60
    travel.shift(timedelta(minutes=1))
    assert hit(client).headers.get("X-Not-Counted") is None
    hit(client, ip="203.0.113.99")  # another visitor is not held back by the first one's cap
    assert counters(client)["today"]["pageviews"] == 62


def test_pixel_counts_and_is_not_cached(client, travel):
    """The <noscript> pixel counts a view and answers a GIF with no-store."""
    add_site(client)
    response = client.get("/api/v1/hit.gif", query_string={"site": "travinh", "url": "https://travinh.gov.vn/"},
                          headers={"User-Agent": CHROME})
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert response.data.startswith(b"GIF89a") and response.headers["Cache-Control"] == "no-store"
    assert counters(client)["today"]["pageviews"] == 1


def test_local_midnight_starts_a_new_day_but_not_a_new_week(client, travel):
    """At local midnight in Asia/Ho_Chi_Minh 'today' starts over; the week keeps counting."""
    add_site(client)
    travel.move_to(at(2026, 11, 25, 23, 59, 50))  # Wednesday
    hit(client)
    travel.move_to(at(2026, 11, 26, 0, 0, 10))
    c = counters(client)
    assert c["today"]["pageviews"] == 0 and c["week"]["pageviews"] == 1
    hit(client, ip="198.51.100.1")
    c = counters(client)
    assert c["today"]["pageviews"] == 1 and c["week"]["pageviews"] == 2 and c["total"]["pageviews"] == 2


def test_monday_starts_a_new_week(client, travel):
    """The week runs Monday to Sunday in the site's zone."""
    add_site(client)
    travel.move_to(at(2026, 11, 29, 23, 0))  # Sunday
    hit(client)
    assert counters(client)["week"]["pageviews"] == 1
    travel.move_to(at(2026, 11, 30, 0, 0, 1))  # Monday
    assert counters(client)["week"]["pageviews"] == 0
    assert counters(client)["total"]["pageviews"] == 1


def test_week_spanning_new_year_and_two_months(client, travel):
    """A week across months and years (ISO week 2026-W53) sums all of its days."""
    add_site(client)
    for day, ip in ((28, "10.0.0.1"), (31, "10.0.0.2")):
        travel.move_to(at(2026, 12, day, 12, 0))
        hit(client, ip=ip)
    travel.move_to(at(2027, 1, 2, 12, 0))
    hit(client, ip="10.0.0.3")
    c = counters(client)
    assert c["week"] == {"visits": 3, "pageviews": 3, "visitors": 3}
    assert c["today"]["pageviews"] == 1


def test_site_timezone_decides_the_day(client, travel):
    """The same instant is 'today' in one zone and yesterday's news in another."""
    add_site(client, site="berlin", domains=["example.de"], timezone="Europe/Berlin")
    travel.move_to(at(2026, 11, 28, 23, 30, tz=BERLIN))
    hit(client, site="berlin", url="https://example.de/")
    travel.move_to(at(2026, 11, 29, 0, 30, tz=BERLIN))
    assert counters(client, "berlin")["today"]["pageviews"] == 0
    assert counters(client, "berlin")["as_of"].endswith("+01:00")


def test_dst_spring_forward_day_in_berlin(client, travel):
    """On the 23-hour day of 2026-03-29 in Berlin, 23:30 local is still that day."""
    add_site(client, site="berlin", domains=["example.de"], timezone="Europe/Berlin")
    travel.move_to(at(2026, 3, 29, 1, 30, tz=BERLIN))   # before the switch, +01:00
    hit(client, site="berlin", url="https://example.de/", ip="10.0.0.1")
    travel.move_to(at(2026, 3, 29, 23, 30, tz=BERLIN))  # after it, +02:00
    hit(client, site="berlin", url="https://example.de/", ip="10.0.0.2")
    c = counters(client, "berlin")
    assert c["today"]["pageviews"] == 2 and c["as_of"].endswith("+02:00")
    travel.move_to(at(2026, 3, 30, 0, 0, 1, tz=BERLIN))
    assert counters(client, "berlin")["today"]["pageviews"] == 0


def test_dst_fall_back_day_in_berlin(client, travel):
    """On the 25-hour day of 2026-10-25 both 02:30s belong to that day."""
    add_site(client, site="berlin", domains=["example.de"], timezone="Europe/Berlin")
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=0)
    travel.move_to(first)
    hit(client, site="berlin", url="https://example.de/", ip="10.0.0.1")
    travel.move_to(datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1))
    hit(client, site="berlin", url="https://example.de/", ip="10.0.0.2")
    travel.move_to(at(2026, 10, 25, 23, 59, tz=BERLIN))
    assert counters(client, "berlin")["today"]["pageviews"] == 2


def test_trusted_proxies_decide_which_address_is_the_visitor(app_config, travel):
    """X-Forwarded-For is ignored unless TRUSTED_PROXIES says how many hops to believe."""
    from service import create_app

    for hops, visitors in ((0, 1), (1, 2)):
        client = create_app({**app_config, "TRUSTED_PROXIES": hops}).test_client()
        add_site(client, site=f"p{hops}")
        for forwarded in ("198.51.100.1", "198.51.100.2"):
            hit(client, site=f"p{hops}", headers={"X-Forwarded-For": forwarded})
        assert counters(client, f"p{hops}")["today"]["visitors"] == visitors


def test_baseline_is_added_to_total_and_idempotent(client, travel):
    """Setting the imported baseline twice does not add twice."""
    add_site(client)
    hit(client)
    for _ in range(2):
        response = client.put("/api/v1/sites/travinh/baseline", json={"visits": 3844451, "source": "old counter"},
                              headers=ADMIN)
        assert response.status_code == 200
    c = counters(client)
    assert c["total"] == {"visits": 3844452, "pageviews": 1, "visitors": 1}
    assert c["today"]["visits"] == 1
    log = client.get("/api/v1/sites/travinh/baseline", headers=ADMIN)
    assert [entry["source"] for entry in log.get_json()["changes"]] == ["old counter", "old counter"]


def test_history_one_row_per_local_day(client, travel):
    """History lists each local day with its numbers, oldest first, ending today."""
    add_site(client)
    travel.move_to(at(2026, 11, 26, 10, 0))
    hit(client)
    hit(client)
    travel.move_to(at(2026, 11, 28, 10, 0))
    hit(client, ip="10.9.9.9")
    response = client.get("/api/v1/sites/travinh/history?days=3", headers=ADMIN)
    assert response.status_code == 200
    assert response.get_json()["days"] == [
        {"date": "2026-11-26", "visits": 1, "pageviews": 2, "visitors": 1},
        {"date": "2026-11-27", "visits": 0, "pageviews": 0, "visitors": 0},
        {"date": "2026-11-28", "visits": 1, "pageviews": 1, "visitors": 1},
    ]


def test_late_hit_lands_in_the_day_it_was_made(app, client, travel):
    """A hit made at 23:59:58 and written after midnight still counts for its own day."""
    from service.model.hits import Hit

    add_site(client)
    made = at(2026, 11, 27, 23, 59, 58)
    travel.move_to(at(2026, 11, 28, 0, 0, 5))
    app.extensions["store"].record_hits([Hit("travinh", "late-visitor", "pageview", made, "Asia/Ho_Chi_Minh")],
                                        batch_id="late")
    c = counters(client)
    assert c["today"]["pageviews"] == 0 and c["total"]["pageviews"] == 1
    rows = client.get("/api/v1/sites/travinh/history?days=2",
                      headers=ADMIN).get_json()["days"]
    assert rows[0] == {"date": "2026-11-27", "visits": 1, "pageviews": 1, "visitors": 1}


def test_batch_across_midnight_counts_each_day_once(app, client, travel):
    """One buffered batch holding hits of two local days: each day gets its own; a retry adds nothing."""
    from service.model.hits import Hit

    add_site(client)
    travel.move_to(at(2026, 11, 28, 0, 0, 5))
    store = app.extensions["store"]
    batch = [Hit("travinh", "night-owl", "pageview", at(2026, 11, 27, 23, 59, 50), "Asia/Ho_Chi_Minh"),
             Hit("travinh", "night-owl", "pageview", at(2026, 11, 28, 0, 0, 1), "Asia/Ho_Chi_Minh"),
             Hit("travinh", "early-bird", "pageview", at(2026, 11, 28, 0, 0, 2), "Asia/Ho_Chi_Minh")]
    assert store.record_hits(batch, batch_id="midnight") == ["visit", "pageview", "visit"]
    assert store.record_hits(batch, batch_id="midnight") == ["duplicate"] * 3
    rows = client.get("/api/v1/sites/travinh/history?days=2",
                      headers=ADMIN).get_json()["days"]
    assert rows == [{"date": "2026-11-27", "visits": 1, "pageviews": 1, "visitors": 1},
                    {"date": "2026-11-28", "visits": 1, "pageviews": 2, "visitors": 2}]
    assert counters(client)["total"] == {"visits": 2, "pageviews": 3, "visitors": 3}


def test_session_written_by_an_older_version_goes_on(app, client, redis_client, travel):
    """A session key holding only '<last hit ms>' (before the per-minute count joined it) still slides."""
    add_site(client)
    hit(client)
    [session] = redis_client.keys("va:{travinh}:s:*")
    last_ms = int(at(2026, 11, 28, 13, 55).timestamp() * 1000)
    redis_client.set(session, str(last_ms), px=30 * 60 * 1000)
    hit(client)
    c = counters(client)
    assert c["today"] == {"visits": 1, "pageviews": 2, "visitors": 1}
    assert redis_client.get(session).decode().startswith(str(int(at(2026, 11, 28, 14, 0).timestamp() * 1000)) + ":")


def test_counters_are_cacheable_and_cors_open(client, travel):
    """The counters answer carries Cache-Control, an ETag that yields 304, and CORS *."""
    add_site(client)
    hit(client)
    first = client.get("/api/v1/sites/travinh/counters")
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get("/api/v1/sites/travinh/counters", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    hit(client, ip="10.1.1.1")
    changed = client.get("/api/v1/sites/travinh/counters", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.get_json()["today"]["pageviews"] == 2


def test_public_answers_carry_one_cors_header_each(client, travel):
    """Hits, their errors and their preflight say Access-Control-Allow-Origin once (browsers refuse two)."""
    add_site(client)
    answers = {
        "hit": hit(client),
        "refused hit": hit(client, site="no-such-site"),
        "preflight": client.options("/api/v1/hit", headers={"Origin": "https://travinh.gov.vn",
                                                           "Access-Control-Request-Method": "POST"}),
        "counters": client.get("/api/v1/sites/travinh/counters"),
    }
    for name, response in answers.items():
        assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"], name
        assert response.headers.getlist("Access-Control-Expose-Headers") == ["X-Not-Counted, ETag"], name
    assert answers["refused hit"].status_code == 404
    assert answers["preflight"].headers["Access-Control-Allow-Headers"] == "Content-Type"


def redis_calls(redis_client) -> Counter:
    """Calls the server has answered so far, per command (INFO, which the test itself sends, left out)."""
    stats = redis_client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): s["calls"] for name, s in stats.items() if name != "cmdstat_info"})


def test_counters_cache_spares_redis(app_config, redis_client, travel):
    """Within the cache lifetime, fifty more widget polls cost Redis nothing beyond the first poll's read."""
    from service import create_app

    client = create_app({**app_config, "COUNTERS_CACHE_SECONDS": 30, "SITE_CACHE_SECONDS": 30}).test_client()
    add_site(client)
    hit(client)
    start = redis_calls(redis_client)
    first = counters(client)
    one_read = redis_calls(redis_client) - start
    # Whatever commands the read sends (today ZCOUNT and HMGET), the first poll must have sent some:
    # otherwise "no more calls" below would hold with no cache at all.
    assert sum(one_read.values()) >= 1, one_read
    polls = [counters(client) for _ in range(50)]
    assert redis_calls(redis_client) - start == one_read
    assert all(p == first for p in polls) and first["today"]["pageviews"] == 1


def test_one_ipv6_prefix_flooding_is_one_address(app_config, travel):
    """An IPv6 subscriber holds a /64: hits from a fresh address of it each time share one
    IP_HITS_PER_MINUTE; a neighbouring /64 and an IPv4-mapped address are others."""
    from service import create_app

    client = create_app({**app_config, "IP_HITS_PER_MINUTE": 20}).test_client()
    add_site(client)
    answers = [hit(client, ip=f"2001:db8:aa:bb::{n + 1:x}", agent=CHROME.replace("131.0.0.0", f"131.0.{n}.0"))
               for n in range(25)]
    assert [a.status_code for a in answers] == [204] * 20 + [429] * 5
    assert counters(client)["today"]["pageviews"] == 20
    assert hit(client, ip="2001:db8:aa:bc::1").status_code == 204
    assert hit(client, ip="::ffff:198.51.100.7").status_code == 204


def test_one_address_flooding_gets_429_with_retry_after(app_config, travel):
    """Beyond IP_HITS_PER_MINUTE from one address: 429 with Retry-After, not counted; others unaffected."""
    from service import create_app

    client = create_app({**app_config, "IP_HITS_PER_MINUTE": 100}).test_client()
    add_site(client)
    answers = [hit(client, agent=CHROME.replace("131.0.0.0", f"131.0.{n}.0")) for n in range(110)]
    assert [a.status_code for a in answers] == [204] * 100 + [429] * 10
    refused = answers[-1]
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert refused.headers["Retry-After"] == "60"  # the clock stands at hh:mm:00
    assert counters(client)["today"]["pageviews"] == 100
    assert hit(client, ip="198.51.100.200").status_code == 204
    travel.shift(timedelta(minutes=1))
    assert hit(client).status_code == 204
