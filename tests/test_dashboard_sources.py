"""The site screen's sources and devices panels and their CSV downloads, over HTTP (real Redis)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta, timezone

import pytest

from service import create_app
from service.dashboard import charts
from service.dashboard.i18n import LANGUAGES, WORDS, Words
from service.model.breakdowns import CHANNELS
from service.model.hits import Hit

from .helpers import ADMIN, add_site
from .test_dashboard import Clock, make_share, secret_path, sign_in

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)
ZONE = "Asia/Ho_Chi_Minh"
KINDS = {
    "google": ("search", "Google", "mobile", "Chrome", "Android", "none"),
    "coccoc": ("search", "Cốc Cốc", "desktop", "Cốc Cốc", "Windows", "none"),
    "zalo": ("social", "Zalo", "mobile", "Safari", "iOS", "Zalo"),
    "facebook": ("social", "Facebook", "mobile", "Chrome", "Android", "Facebook"),
    "direct": ("direct", "", "desktop", "Edge", "Windows", "none"),
    "paper": ("referral", "baochinhphu.vn", "tablet", "Safari", "iOS", "none"),
    "mail": ("email", "Gmail", "desktop", "Firefox", "Linux", "none"),
    "portal": ("internal", "travinh-vh", "desktop", "Chrome", "Windows", "none"),
    "utm": ("campaign", "ban-tin-thang-11", "mobile", "Samsung Internet", "Android", "none"),
}
TODAY = {"google": 7, "coccoc": 3, "zalo": 5, "facebook": 2, "direct": 4, "paper": 1, "mail": 1, "portal": 2, "utm": 1}
"""Visits of each kind today."""
TEN_DAYS_AGO = {"google": 20, "direct": 30, "zalo": 6}
"""Visits of each kind ten days ago: inside 30 days, outside 7."""


@pytest.fixture
def app(app_config):
    return create_app({**app_config, "CLOCK": Clock(NOW)})


def visits(store, counts: dict[str, int], at: datetime, batch: str, kinds=KINDS) -> None:
    """Write one pageview visit per reader through the real hit script: ``counts`` readers of each kind."""
    hits = []
    for name, count in counts.items():
        channel, source, device, browser, os_, app = kinds[name]
        hits += [Hit("travinh", f"{batch}-{name}-{n}", "pageview", at + timedelta(seconds=n), ZONE, page="/x",
                     channel=channel, source=source, device=device, browser=browser, os=os_, app=app)
                 for n in range(count)]
    store.record_hits(hits, batch)


@pytest.fixture
def seeded(app, client):
    """The site with visits today and ten days ago, and a signed-in operator."""
    add_site(client)
    store = app.extensions["store"]
    visits(store, TODAY, NOW - timedelta(hours=1), "today")
    visits(store, TEN_DAYS_AGO, NOW - timedelta(days=10), "before")
    sign_in(client)
    return client


def panel(client, query: str = "") -> str:
    response = client.get(f"/dashboard/sites/travinh{query}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def channels_shown(text: str) -> dict[str, tuple[str, str]]:
    """{channel: (visits, share)} of the channels' table for screen readers."""
    return {c: (v, html.unescape(s)) for c, v, s in re.findall(
        r'<tr data-channel="([a-z]+)"><th scope="row">[^<]*</th><td>([^<]*)</td><td>([^<]*)</td></tr>', text)}


def sources_shown(text: str) -> list[tuple[str, str, str]]:
    """(name, channel, visits) of each row of the top sources table."""
    return [(html.unescape(n), c, v) for n, c, v in re.findall(
        r'<tr data-source="([^"]*)" data-channel="([a-z]+)">.*?<td class="num">([^<]*)</td>', text, re.S)]


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.status_code
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_screen_shows_the_channels_of_the_period_and_the_switch_changes_them(seeded):
    """By default the last 30 days (today's visits and those of ten days ago); 'today' and '7d' show today's
    only; each period link says which one is current."""
    month = panel(seeded)
    assert channels_shown(month) == {"search": ("30", "37%"), "direct": ("34", "41%"), "social": ("13", "16%"),
                                     "internal": ("2", "2,4%"), "referral": ("1", "1,2%"), "email": ("1", "1,2%"),
                                     "campaign": ("1", "1,2%")}
    assert 'aria-current="page">30 ngày</a>' in month and 'data-detail-visits>82<' in month
    for period in ("today", "7d"):
        text = panel(seeded, f"?period={period}")
        assert channels_shown(text) == {"search": ("10", "38%"), "direct": ("4", "15%"), "social": ("7", "27%"),
                                        "internal": ("2", "7,7%"), "referral": ("1", "3,8%"), "email": ("1", "3,8%"),
                                        "campaign": ("1", "3,8%")}
        assert f'href="/dashboard/sites/travinh?period={period}#sources" aria-current="page"' in text
    words = re.findall(r'<text class="label"[^>]*>([^<]*)</text>', panel(seeded, "?period=today"))
    assert words == ["Tìm kiếm", "Mạng xã hội", "Trực tiếp", "Cổng nội bộ", "Chiến dịch", "Email", "Trang giới thiệu"]


def test_top_sources_and_device_lists_hold_the_apis_numbers(seeded):
    """The top sources table lists the sources API's first ten in its order, with initials; each device,
    browser, OS and app list holds the devices API's numbers."""
    text = panel(seeded, "?period=30d")
    api = seeded.get("/api/v1/sites/travinh/sources?period=30d&limit=10", headers=ADMIN).get_json()
    assert sources_shown(text) == [(s["name"], s["channel"], str(s["visits"])) for s in api["sources"]]
    assert sources_shown(text)[0] == ("Google", "search", "27")
    assert re.search(r'<span class="initials tone-\d" aria-hidden="true">CC</span><span class="src"><span class="name">'
                     r'Cốc Cốc</span>', text)
    devices = seeded.get("/api/v1/sites/travinh/devices?period=30d", headers=ADMIN).get_json()
    for name in ("devices", "browsers", "os", "apps"):
        block = text.split(f'data-list="{name}"')[1].split("</ul>")[0]
        shown = re.findall(r'<li data-name="([^"]*)">.*?<span data-visits>([^<]*)</span>', block)
        assert shown == [(r["name"], str(r["visits"])) for r in devices[name]], name
    assert "Điện thoại" in text and "Không (trình duyệt thường)" in text


def test_english_screen_translates_channels_and_writes_numbers_the_english_way(app, client):
    """In English the channels are English words and 1,234 has a comma; in Vietnamese, 1.234 has a dot."""
    add_site(client)
    visits(app.extensions["store"], {"google": 1234, "direct": 1}, NOW - timedelta(hours=2), "many")
    sign_in(client)
    english = panel(client, "?period=today&lang=en")
    assert channels_shown(english) == {"search": ("1,234", "100%"), "direct": ("1", "<0.1%")}
    assert ">Search</text>" in english and "Where readers come from" in english
    vietnamese = panel(client, "?period=today&lang=vi")
    assert channels_shown(vietnamese) == {"search": ("1.234", "100%"), "direct": ("1", "<0,1%")}


def test_links_keep_the_period_and_the_chart_range(seeded):
    """The language switch and the chart's range keep the panels' period; the period links keep the range."""
    text = panel(seeded, "?period=7d&days=90")
    assert 'href="/dashboard/sites/travinh?days=90&amp;period=7d&amp;lang=en"' in text
    assert 'href="/dashboard/sites/travinh?days=365&amp;period=7d"' in text
    assert 'href="/dashboard/sites/travinh?period=today&amp;days=90#sources"' in text
    assert 'href="/dashboard/sites/travinh/sources.csv?period=7d"' in text
    assert 'href="/dashboard/sites/travinh/devices.csv?period=7d"' in text


@pytest.mark.parametrize("period", ["today", "yesterday", "week", "month", "7d", "30d", "90d", "365d"])
def test_csv_downloads_equal_the_json_api(seeded, period):
    """sources.csv summed by channel is the sources API's channels and its named rows are the API's sources,
    in order; devices.csv is the devices API's four lists."""
    rows = read_csv(seeded.get(f"/dashboard/sites/travinh/sources.csv?period={period}"))
    api = seeded.get(f"/api/v1/sites/travinh/sources?period={period}&limit=100", headers=ADMIN).get_json()
    assert rows[0] == ["channel", "source", "visits"]
    by_channel: dict[str, int] = {}
    for channel, _, count in rows[1:]:
        by_channel[channel] = by_channel.get(channel, 0) + int(count)
    assert by_channel == {c["channel"]: c["visits"] for c in api["channels"]}
    assert [[s["channel"], s["name"], str(s["visits"])] for s in api["sources"]] == [r for r in rows[1:] if r[1]]
    assert sum(by_channel.values()) == api["visits"]
    rows = read_csv(seeded.get(f"/dashboard/sites/travinh/devices.csv?period={period}"))
    api = seeded.get(f"/api/v1/sites/travinh/devices?period={period}", headers=ADMIN).get_json()
    assert rows[0] == ["dimension", "name", "visits"]
    assert rows[1:] == [[name, r["name"], str(r["visits"])] for name in ("devices", "browsers", "os", "apps")
                        for r in api[name]]
    if period in ("today", "7d", "30d"):
        assert api["visits"] > 0


HOSTILE = {"cmd": ("campaign", "=cmd|' /C calc'!A0", "mobile", "=2+3", "@SUM(1)", "none"),
           "plus": ("campaign", "+1", "desktop", "Chrome", "-2", "none"),
           "minus": ("referral", "-2", "desktop", "Chrome", "Windows", "+x"),
           "at": ("campaign", "@x", "desktop", "Chrome", "Windows", "none"),
           "split": ("campaign", "tin;=1+1,\t@y", "desktop", "Chrome", "Windows", "none"),
           "html": ("referral", "<b>bold</b>.example", "desktop", "Chrome", "Windows", "none")}
"""Sources (and browser, OS, app names) that a spreadsheet would run as formulas, whole or after a separator."""


def test_formula_names_are_neutralised_in_both_csvs_and_escaped_on_screen(app, client):
    """Source, browser, OS and app names starting with = + - @ (or carrying one after , ; or tab) run as no
    formula whatever the list separator, and show as text on the screen."""
    add_site(client)
    visits(app.extensions["store"], {name: 1 for name in HOSTILE}, NOW - timedelta(hours=1), "hostile", HOSTILE)
    sign_in(client)
    for download in ("sources.csv?period=today", "devices.csv?period=today"):
        text = client.get(f"/dashboard/sites/travinh/{download}").get_data().decode("utf-8-sig")
        for delimiter in (",", ";", "\t"):
            for row in csv.reader(io.StringIO(text), delimiter=delimiter):
                for value in row:
                    assert not value.strip().strip('"').strip().startswith(("=", "+", "-", "@")), (download, value)
                    assert not value.lstrip(' "').startswith(("\t", "\r")), (download, delimiter, value)
    sources = {r[1] for r in read_csv(client.get("/dashboard/sites/travinh/sources.csv?period=today"))}
    assert {"'=cmd|' /C calc'!A0", "'+1", "'-2", "'@x"} <= sources
    screen = panel(client, "?period=today")
    assert "<b>bold</b>" not in screen and "&lt;b&gt;bold&lt;/b&gt;.example" in screen


@pytest.mark.parametrize("query", ["period=decade", "period=", "period=" + "9" * 5000, "period=%ff%fe",
                                   "period=7d&period=bogus", "period=30D", "period=all"])
def test_unknown_period_falls_back_on_the_screen_and_is_a_400_page_for_csv(seeded, query):
    """An unknown period shows the default 30 days on the screen and answers the CSVs with a 400 page, never a 5xx."""
    text = panel(seeded, f"?{query}")
    if not query.startswith("period=7d"):
        assert 'data-sources-panel data-period="30d"' in text
    for download in ("sources.csv", "devices.csv"):
        response = seeded.get(f"/dashboard/sites/travinh/{download}?{query}")
        if query.startswith("period=7d"):  # the first value counts, as everywhere
            assert response.status_code == 200
        else:
            assert response.status_code == 400 and response.mimetype == "text/html"


def test_empty_period_says_so(app, client):
    """A site with no visits in the period shows a sentence in place of empty charts, and still offers the CSVs."""
    add_site(client)
    sign_in(client)
    text = panel(client, "?period=today")
    assert "data-no-visits" in text and "Chưa có lượt truy cập nào trong khoảng thời gian này." in text
    assert read_csv(client.get("/dashboard/sites/travinh/sources.csv?period=today")) == [["channel", "source", "visits"]]


def test_a_share_session_sees_the_panels_and_csvs_of_its_site_only(app, client):
    """A share link's session sees its site's sources and devices and downloads both CSVs; another site's are 403."""
    add_site(client)
    add_site(client, "other", domains=("other.gov.vn",))
    visits(app.extensions["store"], TODAY, NOW - timedelta(hours=1), "today")
    share = make_share(client)
    assert client.get(secret_path(share)).status_code == 303
    text = panel(client, "?period=today")
    assert channels_shown(text)["search"] == ("10", "38%") and 'data-list="browsers"' in text
    assert len(read_csv(client.get("/dashboard/sites/travinh/sources.csv?period=today"))) == 1 + len(TODAY)
    assert read_csv(client.get("/dashboard/sites/travinh/devices.csv"))[0] == ["dimension", "name", "visits"]
    for path in ("/dashboard/sites/other?period=today", "/dashboard/sites/other/sources.csv",
                 "/dashboard/sites/other/devices.csv?period=7d"):
        assert client.get(path).status_code == 403, path


def test_signed_out_downloads_go_to_the_signin_form(client):
    """Without a session the CSVs answer a redirect to the sign-in form, never the numbers."""
    add_site(client)
    for download in ("sources.csv", "devices.csv"):
        response = client.get(f"/dashboard/sites/travinh/{download}?period=7d")
        assert response.status_code == 303 and "/dashboard/signin" in response.headers["Location"]


def test_the_panels_read_the_breakdowns_once_per_screen(seeded, app, monkeypatch):
    """Both panels come from one read of the day hashes (one round trip), whatever the period."""
    store = app.extensions["store"]
    calls = []
    real = store.read_breakdowns
    monkeypatch.setattr(store, "read_breakdowns", lambda site, days: calls.append(len(days)) or real(site, days))
    for period, days in (("365d", 365), ("today", 1), ("week", 6)):
        panel(seeded, f"?period={period}")
        assert calls == [days], period
        calls.clear()


def test_every_channel_and_device_type_has_words_in_both_languages():
    """No channel or device type shows as its raw code in either language; 'Other', '(other)' and 'none' are words too."""
    for lang in LANGUAGES:
        words = Words(lang)
        for channel in CHANNELS:
            assert f"channel_{channel}" in WORDS[lang], (lang, channel)
        for device in ("desktop", "mobile", "tablet"):
            assert f"devices_{device}" in WORDS[lang], (lang, device)
        assert words.name_of("devices", "other") == words.name_of("browsers", "Other") == words("other")
        assert words.name_of("source", "(other)") == words("other")
        assert words.name_of("apps", "none") == WORDS[lang]["apps_none"]
        assert words.name_of("browsers", "Cốc Cốc") == "Cốc Cốc"
    assert [Words("vi").name_of("channel", c) for c in CHANNELS] == [
        "Trực tiếp", "Tìm kiếm", "Mạng xã hội", "Email", "Cổng nội bộ", "Trang giới thiệu", "Chiến dịch"]


@pytest.mark.parametrize(("name", "letters"), [("Google", "G"), ("Cốc Cốc", "CC"), ("Yahoo Mail", "YM"),
                                               ("baochinhphu.vn", "B"), ("t.co", "T"), ("đà nẵng 24h", "ĐN"),
                                               ("=cmd|x", "C"), ("", "?")])
def test_initials_of_a_source(name, letters):
    """A source's circle holds the first letters of its first two words, or of a host's first label."""
    assert charts.initials(name) == letters


@pytest.mark.parametrize(("part", "whole", "vi", "en"), [(0, 0, "0%", "0%"), (1, 3, "33%", "33%"),
                                                         (1, 40, "2,5%", "2.5%"), (1, 2000, "<0,1%", "<0.1%"),
                                                         (999, 1000, "100%", "100%"), (3, 3, "100%", "100%")])
def test_percentages_per_language(part, whole, vi, en):
    """Shares read as each language writes them: a decimal comma in Vietnamese, a sliver as <0.1%."""
    assert (Words("vi").percent(part, whole), Words("en").percent(part, whole)) == (vi, en)


def test_answers_match_the_openapi_document(seeded):
    """The screen with a period and both downloads (200, an unknown period's 400, signed out 303) answer as documented."""
    from .test_openapi import assert_matches_document

    cases = [("/dashboard/sites/travinh?period=7d", "/dashboard/sites/{site}", 200)]
    for name in ("sources", "devices"):
        path = f"/dashboard/sites/{{site}}/{name}.csv"
        cases += [(f"/dashboard/sites/travinh/{name}.csv?period=90d", path, 200),
                  (f"/dashboard/sites/travinh/{name}.csv?period=decade", path, 400),
                  (f"/dashboard/sites/nosuch/{name}.csv", path, 404)]
    for url, path, status in cases:
        response = seeded.get(url)
        assert response.status_code == status, url
        assert_matches_document(response, path, "get")
    anonymous = seeded.application.test_client().get("/dashboard/sites/travinh/devices.csv")
    assert anonymous.status_code == 303
    assert_matches_document(anonymous, "/dashboard/sites/{site}/devices.csv", "get")


def test_a_long_list_shows_its_first_eight_and_sums_the_rest(app, client):
    """Ten browsers: the list shows the eight with most visits and one row for the other two, so it still sums
    to the period's visits."""
    add_site(client)
    kinds = {f"b{n}": ("direct", "", "desktop", f"Browser {n}", "Windows", "none") for n in range(10)}
    visits(app.extensions["store"], {f"b{n}": 12 - n for n in range(10)}, NOW - timedelta(hours=1), "many", kinds)
    sign_in(client)
    block = panel(client, "?period=today").split('data-list="browsers"')[1].split("</ul>")[0]
    shown = re.findall(r'<li (?:class="rest" )?data-name="([^"]*)">.*?<span data-visits>([^<]*)</span>', block)
    assert shown == [(f"Browser {n}", str(12 - n)) for n in range(8)] + [("", "7")]
    assert "Còn lại (2)" in block
