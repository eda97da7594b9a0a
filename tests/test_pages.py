"""Pages: one rule for what a page is, exact views per page, most-read lists, a cap no flood passes,
and the per-page baseline import (JSON or CSV, streamed, never half applied)."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner

from service import create_app
from service.storage import keys
from service.cli import main
from service.model.hits import Hit
from service.model.page_urls import page_key
from service.model.sites import Site
from service.storage import CounterStore, Limits

from .conftest import CHROME
from .helpers import ADMIN, add_site, counters, hit
from .servers import every_server_kind  # noqa: F401  (a fixture: each test runs on every server kind)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.mark.parametrize(("given", "params", "page"), [
    ("/a", (), "/a"),
    ("/a/", (), "/a"),                                    # trailing slash dropped
    ("/A", (), "/a"),                                     # case folded
    ("/", (), "/"),
    ("", (), "/"),
    ("https://travinh.gov.vn", (), "/"),
    ("https://travinh.gov.vn:8443/a/b/#binh-luan", (), "/a/b"),   # host, port, fragment dropped
    ("/a?utm_source=x&fbclid=1", (), "/a"),               # query dropped by default
    ("/a?id=2&x=1", ("id",), "/a?id=2"),                  # ...except page_params
    ("/a?x=1&id=2", ("id",), "/a?id=2"),
    ("/a?b=2&a=1", ("a", "b"), "/a?a=1&b=2"),             # canonical order
    ("/Default.aspx?ItemID=56&Page=2", ("ItemID",), "/?ItemID=56"),  # named as the site spells it
    ("/a?id=", ("id",), "/a"),                            # empty values dropped
    ("/tin-t%E1%BB%A9c", (), "/tin-tức"),                 # UTF-8 escapes decoded
    ("/tin-tức", (), "/tin-tức"),
    ("/TIN-T%E1%BB%A8C/", (), "/tin-tức"),
    ("/tin-tuc/index.html", (), "/tin-tuc"),              # index files are their folder
    ("/index.php", (), "/"),
    ("/a%7Eb", (), "/a~b"),                               # unreserved escapes decoded
    ("/a%2Fb", (), "/a%2Fb"),                             # an encoded slash stays encoded
    ("/a b", (), "/a%20b"),
    ("/%FF", (), "/%FF"),                                 # not UTF-8: stays escaped, upper case
    ("/a//b/./c/../d", (), "/a/b/d"),                     # dot segments, doubled slashes
    ("/../../etc/passwd", (), "/etc/passwd"),
    ("/x" * 300, (), ("/x" * 300)[:512]),                 # long: cut at 512
    ("/" + "%E1%BB%A9" * 200, (), "/" + "ứ" * 200),       # long in escapes, short decoded
])
def test_page_normalization(given, params, page):
    """The one documented rule (service/model/page_urls.py) turns any way of writing a page into one key."""
    assert page_key(given, params) == page
    assert len(page_key(given, params)) <= 512


def test_views_and_titles_per_page(client, redis_client):
    """Each counted pageview adds one view to its page; the latest title wins; pings add none."""
    add_site(client)
    for n, (path, title) in enumerate([("/bai-1?utm_source=zalo", "Bài 1"), ("/bai-1/", "Bài 1 (sửa)"),
                                       ("/BAI-2", "Bài 2")]):
        assert hit(client, url=f"https://travinh.gov.vn{path}", ip=f"10.0.0.{n}", title=title).status_code == 204
    hit(client, url="https://travinh.gov.vn/bai-1", ip="10.0.0.9", kind="ping")
    answer = client.get("/api/v1/sites/travinh/pages?path=/bai-1&path=https://travinh.gov.vn/bai-2&path=/none")
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    assert [(p["path"], p["views"]) for p in answer.get_json()["pages"]] == [
        ("/bai-1", {"today": 2, "total": 2}), ("/bai-2", {"today": 1, "total": 1}), ("/none", {"today": 0, "total": 0})]
    top = client.get("/api/v1/sites/travinh/top?period=today").get_json()["pages"]
    # "link" is the path as the portal spells it (its latest spelling): links work on case-sensitive servers.
    assert top == [{"path": "/bai-1", "title": "Bài 1 (sửa)", "views": 2, "link": "/bai-1/"},
                   {"path": "/bai-2", "title": "Bài 2", "views": 1, "link": "/BAI-2"}]
    stored = b" ".join(k for k in redis_client.keys("*")) + b" ".join(redis_client.zrange("va:{travinh}:pg:all", 0, -1))
    assert b"utm" not in stored and b"zalo" not in stored  # query strings are not kept


def test_not_counted_hits_store_nothing_per_page(client, redis_client):
    """A bot, a prefetch or another domain's page leaves no page, title or key behind (only the
    day's not-counted tally)."""
    add_site(client)
    before = set(redis_client.keys("*"))
    hit(client, agent="Mozilla/5.0 (compatible; Googlebot/2.1)", title="bot")
    hit(client, headers={"Sec-Purpose": "prefetch"}, title="prefetch")
    hit(client, url="https://evil.example/x", title="evil")
    assert {k for k in set(redis_client.keys("*")) - before if b":nc:" not in k} == set()


@pytest.mark.parametrize(("query", "status"), [
    ("", 400), ("?path=" + "&path=/a" * 101, 400), ("?path=relative", 400), ("?path=/" + "a" * 2048, 400),
    ("?path=/a", 200),
])
def test_pages_query_bounds(client, query, status):
    add_site(client)
    response = client.get("/api/v1/sites/travinh/pages" + query)
    assert response.status_code == status and response.is_json


@pytest.mark.parametrize(("query", "status"), [
    ("?period=decade", 400), ("?limit=0", 400), ("?limit=51", 400), ("?limit=１０", 400), ("?limit=-1", 400),
    ("?period=all&limit=50", 200), ("", 200),
])
def test_top_query_bounds(client, query, status):
    add_site(client)
    response = client.get("/api/v1/sites/travinh/top" + query)
    assert response.status_code == status and response.is_json


def test_title_is_a_string_cut_at_200_characters(client):
    add_site(client)
    assert hit(client, title=["x"]).status_code == 400
    hit(client, title="T" * 500 + "\u0000 tail")
    assert len(client.get("/api/v1/sites/travinh/top?period=today").get_json()["pages"][0]["title"]) == 200


def test_a_title_with_half_an_emoji_is_kept_as_text_and_the_batch_flows(app_config):
    """A lone UTF-16 surrogate (a CMS that cut an emoji in half; JSON "\\ud83d") in document.title
    cannot be encoded for Redis: it becomes U+FFFD, and the batched hits around it all count. An
    import naming a path with one is refused, whole."""
    client = create_app({**app_config, "FLUSH_INTERVAL_MS": 20}).test_client()
    add_site(client)
    body = '{"site": "travinh", "url": "https://travinh.gov.vn/bai-1", "title": "Tin n\\ud83d\\u00f3ng"}'
    statuses = [hit(client, ip=f"10.0.1.{n}").status_code for n in range(3)]
    statuses.append(client.post("/api/v1/hit", data=body, content_type="text/plain", headers={"User-Agent": CHROME},
                                environ_base={"REMOTE_ADDR": "10.0.1.9"}).status_code)
    statuses += [hit(client, ip=f"10.0.2.{n}").status_code for n in range(3)]
    assert statuses == [204] * 7
    imported = client.put("/api/v1/sites/travinh/pages/baseline", data='{"pages": {"/bai-\\udc81": 5}}',
                          content_type="application/json", headers=ADMIN)
    assert imported.status_code == 400 and imported.get_json()["error"]["code"] == "bad_request"  # never a 500
    deadline = time.monotonic() + 10
    while counters(client)["total"]["pageviews"] < 7:
        assert time.monotonic() < deadline, counters(client)
        time.sleep(0.05)
    top = client.get("/api/v1/sites/travinh/top?period=today").get_json()["pages"]
    assert {"path": "/bai-1", "title": "Tin n\ufffd\u00f3ng", "views": 1, "link": "/bai-1"} in top


def test_top_lists_follow_the_exact_ranking_over_days(app_config):
    """Hits over 40 days, Zipf-like over 300 pages: every period's list is the exact ranking."""
    rng = random.Random(7)
    pages = [f"/tin/{n}" for n in range(300)]
    weights = [1 / (rank + 1) for rank in range(300)]
    start = datetime(2026, 10, 20, 10, 0, tzinfo=HCM)
    by_day: dict = {}
    with time_machine.travel(start, tick=False) as clock:
        client = create_app(app_config).test_client()
        add_site(client)
        for day in range(40):
            clock.move_to(start + timedelta(days=day))
            chosen = rng.choices(pages, weights, k=40)
            for n, page in enumerate(chosen):
                hit(client, url=f"https://travinh.gov.vn{page}", ip=f"10.{day}.{n // 250}.{n % 250}", title=page.upper())
            by_day[(start + timedelta(days=day)).date()] = Counter(chosen)
        today = (start + timedelta(days=39)).date()  # Wed 2026-11-28
        week = [today - timedelta(days=n) for n in range(today.weekday() + 1)]
        month = [d for d in by_day if (d.year, d.month) == (today.year, today.month)]
        expected = {"today": by_day[today], "yesterday": by_day[today - timedelta(days=1)],
                    "week": sum((by_day[d] for d in week), Counter()), "month": sum((by_day[d] for d in month), Counter()),
                    "all": sum(by_day.values(), Counter())}
        for period, views in expected.items():
            got = client.get(f"/api/v1/sites/travinh/top?period={period}&limit=50").get_json()["pages"]
            ranking = sorted(views.items(), key=lambda item: (-item[1], item[0]))[:50]
            assert [(p["path"], p["views"]) for p in got] == ranking, period
            assert all(p["title"] == p["path"].upper() for p in got)
        assert counters(client)["month"]["pageviews"] == sum(expected["month"].values())
        assert counters(client)["yesterday"]["pageviews"] == 40


def test_distinct_pages_per_day_are_capped_and_counted(app_config, redis_client):
    """Past PAGES_PER_DAY new pages a day, views still count for the site, not per page; a metric
    says how many and /readyz warns."""
    client = create_app({**app_config, "PAGES_PER_DAY": 50}).test_client()
    add_site(client)
    before = _metric(client, "va_pages_over_cap_total")
    for n in range(80):
        hit(client, url=f"https://travinh.gov.vn/p/{n}", ip=f"10.1.0.{n}")
    hit(client, url="https://travinh.gov.vn/p/3", ip="10.1.1.1")   # a page already counted today still counts
    assert counters(client)["today"]["pageviews"] == 81
    today = datetime.now(timezone.utc).astimezone(HCM).date()
    assert redis_client.zcard(keys.pages_day("travinh", today)) == 50
    assert redis_client.zscore(keys.pages_day("travinh", today), "/p/3") == 2
    assert _metric(client, "va_pages_over_cap_total") - before == 30
    warnings = client.get("/readyz").get_json()["warnings"]
    assert any("PAGES_PER_DAY" in w and "travinh" in w for w in warnings), warnings


def _metric(client, name: str) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_flood_of_200000_invented_urls_keeps_redis_bounded(redis_url, redis_client, tmp_path):
    """200,000 distinct paths in a day: the site keeps at most PAGES_PER_DAY pages, a handful of
    keys and bounded memory; every pageview is still in the site's numbers."""
    client = create_app({"REDIS_URL": redis_url, "ADMIN_TOKEN": ADMIN["Authorization"][7:],
                         "JOURNAL_DIR": str(tmp_path / "j")}).test_client()
    add_site(client)
    store = CounterStore.from_url(redis_url, Limits(300, 1800, 10**9), timeout_seconds=10)
    now = datetime.now(timezone.utc)
    for batch in range(400):
        hits = [Hit("travinh", "flooder", "pageview", now, "Asia/Ho_Chi_Minh", "c", page=f"/fake/{batch}/{n}",
                    title="x" * 200) for n in range(500)]
        store.record_hits(hits, f"flood-{batch}")
    # Batch markers (one per script call) expire within 10 minutes; everything else is the site's.
    site_keys = [k for k in redis_client.keys("va:{travinh}:*") if b":b:" not in k]
    assert len(site_keys) < 20, site_keys
    today = now.astimezone(HCM).date()
    assert redis_client.zcard(keys.pages_day("travinh", today)) == 50_000
    assert redis_client.zcard(keys.pages_all("travinh")) == 50_000
    assert redis_client.hlen(keys.page_titles("travinh")) == 50_000
    memory = sum(redis_client.memory_usage(k) or 0 for k in site_keys)
    print(f"\n200,000 invented URLs: {len(site_keys)} keys, {memory / 2**20:.1f} MiB")  # figures for -s runs
    assert memory < 40 * 2**20, memory  # the three page structures at the cap, nothing per extra URL
    assert int(redis_client.hget(keys.total("travinh"), "pageviews")) == 200_000


@pytest.mark.parametrize("room", [1, 3])
def test_a_batch_that_reaches_the_cap_counts_pages_in_the_order_first_seen(redis_url, redis_client, room):
    """A day with room for ``room`` more pages gets a batch of room + 1 new ones (and a page it
    has): exactly ``room`` new pages count per page, the last one first seen counts for the site
    only; a batch of ``room`` new pages (no ZMSCORE asked) counts them all."""
    cap = 20
    store = CounterStore.from_url(redis_url, Limits(300, 1800, 10**9, pages_per_day=cap), timeout_seconds=10)
    store.put_site(Site("travinh", ("travinh.gov.vn",), "Asia/Ho_Chi_Minh"))
    now = datetime.now(timezone.utc)
    day = now.astimezone(HCM).date()

    def batch(pages: list[str], batch_id: str) -> list:
        hits = [Hit("travinh", f"v{n}", "pageview", now, "Asia/Ho_Chi_Minh", "c", page=page, title=page.upper())
                for n, page in enumerate(pages)]
        return store.record_hits(hits, batch_id)

    batch([f"/old/{n}" for n in range(cap - room)], "fill")
    new = [f"/new/{n}" for n in range(room + 1)]
    # Each new page twice; the last one is first seen after a page the day already has.
    outcomes = batch([*new[:-1], "/old/0", new[-1], *new], "reaching")
    assert all(outcome.counts for outcome in outcomes)
    scores = dict(redis_client.zrange(keys.pages_day("travinh", day), 0, -1, withscores=True))
    assert len(scores) == cap
    assert [scores.get(page.encode()) for page in new] == [2.0] * room + [None]
    assert scores[b"/old/0"] == 2.0
    assert redis_client.zscore(keys.pages_all("travinh"), new[-1]) is None
    assert redis_client.hget(keys.page_titles("travinh"), new[-1]) is None
    assert redis_client.hget(keys.page_titles("travinh"), new[0]) == new[0].upper().encode()
    assert store.pages_over_cap == {"travinh": day}
    assert int(redis_client.hget(keys.total("travinh"), "pageviews")) == cap - room + 2 * room + 3

    redis_client.zrem(keys.pages_day("travinh", day), *new)  # room for `room` pages again
    store.pages_over_cap.clear()
    asked = redis_client.info("commandstats").get("cmdstat_zmscore", {}).get("calls", 0)
    batch([f"/more/{n}" for n in range(room)], "exactly")
    assert redis_client.zcard(keys.pages_day("travinh", day)) == cap
    assert store.pages_over_cap == {}
    assert redis_client.info("commandstats").get("cmdstat_zmscore", {}).get("calls", 0) == asked


def test_odd_titles_links_and_pages_round_trip_through_the_packed_hits(redis_url, redis_client):
    """Whatever bytes a title, link or page holds (NUL, quotes, long Vietnamese, emoji), Redis
    stores them as sent: the hits reach the script packed (MessagePack) on every server kind."""
    store = CounterStore.from_url(redis_url, Limits(300, 1800, 10**9), timeout_seconds=10)
    store.put_site(Site("travinh", ("travinh.gov.vn",), "Asia/Ho_Chi_Minh"))
    now = datetime.now(timezone.utc)
    odd = ["nul\x00inside", "quotes \" ' ` and \\ backslash", "Tỉnh Trà Vinh: " + "ứ" * 185,
           "emoji 🇻🇳 👍🏽 𝕏", "%00 %ff \ufeff \u202e", "\x7f\x01 control", "a" * 200, "-- ]] ' lua"]
    hits = [Hit("travinh", f"v{n}", "pageview", now + timedelta(milliseconds=n), "Asia/Ho_Chi_Minh", "c",
                page=f"/trang/{n}/{text[:20]}", title=text, link=f"/Trang/{n}/{text}") for n, text in enumerate(odd)]
    assert all(outcome.counts for outcome in store.record_hits(hits, "odd"))
    for hit_ in hits:
        assert redis_client.zscore(keys.pages_all("travinh"), hit_.page) == 1
        assert redis_client.hget(keys.page_titles("travinh"), hit_.page).decode() == hit_.title
        assert redis_client.hget(keys.page_links("travinh"), hit_.page).decode() == hit_.link
    assert redis_client.zscore(keys.online("travinh"), "v7") == int(hits[7].at.timestamp() * 1000)


def test_past_days_are_trimmed_and_expire(app_config, redis_client):
    """A past day keeps its top pages only, and every day set expires; only all-time and titles stay."""
    start = datetime(2026, 11, 1, 9, 0, tzinfo=HCM)
    with time_machine.travel(start, tick=False) as clock:
        app = create_app(app_config)
        client = app.test_client()
        add_site(client)
        for n in range(keys.PAGES_KEPT_PER_PAST_DAY + 30):
            app.extensions["store"].record_hits(
                [Hit("travinh", f"v{n}", "pageview", start, "Asia/Ho_Chi_Minh", "c", page=f"/p/{n}")], f"b{n}")
        clock.move_to(start + timedelta(days=1))
        hit(client, url="https://travinh.gov.vn/next-day")
    first = keys.pages_day("travinh", start.date())
    assert redis_client.zcard(first) == keys.PAGES_KEPT_PER_PAST_DAY
    forever = {k for k in redis_client.keys("va:{travinh}:pg:*") if redis_client.ttl(k) == -1}
    assert forever == {keys.pages_all("travinh").encode(), keys.page_titles("travinh").encode()} - {b""} or \
        forever == {keys.pages_all("travinh").encode()}
    assert all(0 < redis_client.ttl(k) <= (keys.PAGE_DAYS_KEPT + 2) * 86400
               for k in redis_client.keys("va:{travinh}:pg:d:*"))


def test_page_baseline_import_json_replaces_and_is_idempotent(client):
    """JSON import: each listed page's baseline replaced (never added); twice changes nothing."""
    add_site(client)
    hit(client, url="https://travinh.gov.vn/bai-1")
    body = {"pages": {"/bai-1": 1000, "/bai-2/": 5, "https://travinh.gov.vn/Bai-3": 7}}
    first = client.put("/api/v1/sites/travinh/pages/baseline", json=body, headers=ADMIN)
    assert first.status_code == 200, first.get_json()
    assert (first.get_json()["imported"], first.get_json()["changed"], first.get_json()["rejected"]) == (3, 3, 0)
    again = client.put("/api/v1/sites/travinh/pages/baseline", json=body, headers=ADMIN).get_json()
    assert (again["imported"], again["changed"]) == (3, 0)
    views = {p["path"]: p["views"] for p in client.get(
        "/api/v1/sites/travinh/pages?path=/bai-1&path=/bai-2&path=/bai-3").get_json()["pages"]}
    assert views == {"/bai-1": {"today": 1, "total": 1001}, "/bai-2": {"today": 0, "total": 5},
                     "/bai-3": {"today": 0, "total": 7}}
    lowered = client.put("/api/v1/sites/travinh/pages/baseline", json={"pages": {"/bai-1": 10}}, headers=ADMIN)
    assert lowered.get_json()["changed"] == 1
    top = client.get("/api/v1/sites/travinh/top?period=all").get_json()["pages"]
    assert top[0] == {"path": "/bai-1", "title": None, "views": 11, "link": "/bai-1"}


def test_page_baseline_import_csv_reports_bad_rows_with_their_line(client):
    add_site(client)
    csv_body = "path,views\n/a,10\n/b,ten\nrelative,3\n/c,-4\n/d,4,extra\n\"/e,f\",6\n"
    answer = client.put("/api/v1/sites/travinh/pages/baseline", data=csv_body, content_type="text/csv",
                        headers=ADMIN).get_json()
    assert (answer["rows_read"], answer["imported"], answer["rejected"]) == (6, 2, 4)
    assert [r["line"] for r in answer["rejections"]] == [3, 4, 5, 6]
    views = client.get("/api/v1/sites/travinh/pages?path=/a&path=/e,f").get_json()["pages"]
    assert [p["views"]["total"] for p in views] == [10, 6]


def test_page_baseline_csv_with_a_quote_never_closed_says_so(client):
    add_site(client)
    csv_body = "path,views\n/a,10\n\"/b,20\n/c,30\n"
    answer = client.put("/api/v1/sites/travinh/pages/baseline", data=csv_body, content_type="text/csv",
                        headers=ADMIN).get_json()
    assert answer["imported"] == 1 and [r["line"] for r in answer["rejections"]] == [3]
    assert "never closed" in answer["rejections"][0]["reason"]


@pytest.mark.parametrize(("body", "content_type"), [
    ('{"pages": {"/a": 1, "/b": 2, ', "application/json"),        # cut off
    ('{"pages": [1, 2]}', "application/json"),
    (b"/a,1\n/b,\xff\xfe\n", "text/csv"),                           # not UTF-8
    ("", "text/csv"),
    ("/a,1", "application/xml"),
])
def test_a_bad_page_baseline_file_imports_nothing(client, redis_client, body, content_type):
    add_site(client)
    response = client.put("/api/v1/sites/travinh/pages/baseline", data=body, content_type=content_type,
                          headers=ADMIN)
    assert response.status_code in (400, 415) and response.is_json
    assert redis_client.hlen(keys.page_baseline("travinh")) == 0
    assert redis_client.zcard(keys.pages_all("travinh")) == 0


def test_page_baseline_needs_the_admin_token(client):
    add_site(client)
    assert client.put("/api/v1/sites/travinh/pages/baseline", json={"pages": {"/a": 1}}).status_code == 401


def test_200000_row_csv_import_streams_through_gunicorn(redis_url, redis_client, tmp_path, gunicorn_processes):
    """A 200,000-row CSV sent chunked (no Content-Length) to real gunicorn imports whole."""
    import http.client

    from service.ops.redis_process import free_port

    port = free_port()
    gunicorn_processes(redis_url, tmp_path, port)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("PUT", "/api/v1/sites/travinh", json.dumps({"domains": ["travinh.gov.vn"]}),
                       {**ADMIN, "Content-Type": "application/json"})
    assert connection.getresponse().read() and True

    def rows():
        yield b"path,views\n"
        for start in range(0, 200_000, 1000):
            yield "".join(f"/bai-viet/{n}.html,{n % 997}\n" for n in range(start, start + 1000)).encode()

    connection.request("PUT", "/api/v1/sites/travinh/pages/baseline?source=old%20CMS", rows(),
                       {**ADMIN, "Content-Type": "text/csv"}, encode_chunked=True)
    response = connection.getresponse()
    answer = json.loads(response.read())
    assert response.status == 200, answer
    assert (answer["rows_read"], answer["imported"], answer["rejected"]) == (200_000, 200_000, 0)
    # A baseline of 0 is no baseline: those rows change nothing.
    assert redis_client.hlen(keys.page_baseline("travinh")) == sum(1 for n in range(200_000) if n % 997)
    assert redis_client.zscore(keys.pages_all("travinh"), "/bai-viet/1996.html") == 1996 % 997
    audit = json.loads(redis_client.lindex(keys.page_baseline_log("travinh"), 0))
    assert audit["source"] == "old CMS" and audit["imported"] == 200_000


def test_cli_pages_import_reports_read_imported_rejected(redis_url, client, tmp_path):
    add_site(client, domains=("travinh.gov.vn",))
    export = tmp_path / "old-cms.csv"
    export.write_text("path,views\n/a,5\n/b,x\n/c,7\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["pages", "import", "travinh", str(export), "--source", "old CMS"],
                                env={"REDIS_URL": redis_url})
    assert result.exit_code == 0, result.output
    assert "3 rows read, 2 imported (2 changed), 1 rejected" in result.output
    assert "line 3" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"pages": {"/a": 1,', encoding="utf-8")
    refused = CliRunner().invoke(main, ["pages", "import", "travinh", str(bad)], env={"REDIS_URL": redis_url})
    assert refused.exit_code == 2 and "nothing was imported" in refused.output
    views = client.get("/api/v1/sites/travinh/pages?path=/a&path=/c").get_json()["pages"]
    assert [p["views"]["total"] for p in views] == [5, 7]


def test_not_counted_hits_are_kept_per_day_and_reason(app_config, redis_client):
    """Bots, prefetches, other domains, refreshes past the cap and floods are counted per site and
    local day by reason (the dashboard's "not counted and why"), in a key that expires."""
    client = create_app({**app_config, "VISITOR_HITS_PER_MINUTE": 2, "IP_HITS_PER_MINUTE": 5}).test_client()
    add_site(client)
    app = client.application
    hit(client, agent="Mozilla/5.0 (compatible; Googlebot/2.1)")
    hit(client, agent="Mozilla/5.0 (compatible; bingbot/2.0)")
    hit(client, headers={"Sec-Purpose": "prefetch"})
    hit(client, url="https://evil.example/")
    hit(client, headers={"Origin": "https://evil.example"})
    for n in range(3):
        hit(client, ip="10.5.5.5")                       # one visitor: the third is rate_limited
    for n in range(6):
        hit(client, ip="10.6.6.6", agent=f"{CHROME} n{n}")  # one address: the sixth is ip_limited
    assert app.extensions["recorder"].flush()
    import time as _time
    deadline = _time.monotonic() + 5
    site = app.extensions["store"].get_site("travinh")
    today = datetime.now(timezone.utc).astimezone(HCM).date()
    while True:
        row = app.extensions["store"].not_counted(site, [today])[0]
        if row.get("foreign_domain") == 2 or _time.monotonic() > deadline:
            break
        _time.sleep(0.1)
    assert row == {"date": today.isoformat(), "bot": 2, "prefetch": 1, "foreign_domain": 2, "rate_limited": 1,
                   "ip_limited": 1}
    assert 0 < redis_client.ttl(keys.not_counted("travinh", today)) <= (keys.NOT_COUNTED_DAYS_KEPT + 1) * 86400


def test_views_are_exact_through_two_gunicorn_workers(redis_url, tmp_path, gunicorn_processes):
    """3,000 hits over 500 pages (Zipf-like) from 16 threads into two workers: every page's views
    and the all-time ranking are exact."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from service.ops.redis_process import free_port

    from .servers import request, wait_for_total

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn_processes(redis_url, tmp_path, port, SITE_CACHE_SECONDS="0")
    request(base + "/api/v1/sites/travinh", json.dumps({"domains": ["travinh.gov.vn"]}).encode(),
            {**ADMIN, "Content-Type": "application/json"}, "PUT")
    rng = random.Random(11)
    pages = [f"/tin-tuc/bai-{n}.html" for n in range(500)]
    chosen = rng.choices(pages, [1 / (rank + 1) for rank in range(500)], k=3000)

    def send(n):
        body = json.dumps({"site": "travinh", "url": f"https://travinh.gov.vn{chosen[n]}", "title": chosen[n]})
        agent = CHROME.replace("131.0.0.0", f"131.0.{n // 250}.{n % 250}")   # a visitor per hit
        return request(base + "/api/v1/hit", body.encode(), {"User-Agent": agent, "Content-Type": "text/plain"})[0]

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(send, range(3000))) == {204}
    wait_for_total(base, "travinh", 3000)
    expected = Counter(chosen)
    query = "&".join(f"path={p}" for p in pages[:100])
    views = json.loads(urllib.request.urlopen(f"{base}/api/v1/sites/travinh/pages?{query}").read())["pages"]
    assert {p["path"]: p["views"]["total"] for p in views} == {p: expected[p] for p in pages[:100]}
    top = json.loads(urllib.request.urlopen(f"{base}/api/v1/sites/travinh/top?period=all&limit=50").read())["pages"]
    assert [(p["path"], p["views"]) for p in top] == sorted(expected.items(), key=lambda i: (-i[1], i[0]))[:50]
