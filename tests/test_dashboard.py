"""The dashboard over HTTP: sign-in, sessions, CSRF, the attempt limit, share links, CSV (real Redis)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from service import create_app
from service.dashboard.middleware import CSP
from service.model.hits import Outcome

from .conftest import ADMIN_TOKEN, CHROME
from .helpers import ADMIN, DASHBOARD_PAGES, add_site, hit, seed_history

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def app(app_config, clock):
    return create_app({**app_config, "CLOCK": clock})


def form_token(client, path="/dashboard/signin") -> str:
    page = client.get(path)
    return re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, token=ADMIN_TOKEN, ip="198.51.100.4"):
    return client.post("/dashboard/signin", data={"csrf": form_token(client), "token": token},
                       environ_base={"REMOTE_ADDR": ip})


def session_csrf(client) -> str:
    return form_token(client, "/dashboard")


def cookie_header(response, name: str) -> str:
    found = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    return found[0] if found else ""


def make_share(client, site="travinh", **body) -> dict:
    response = client.post(f"/api/v1/sites/{site}/shares", json=body, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def secret_path(share: dict) -> str:
    """The path of a share's URL (/dashboard/share/<secret>)."""
    return "/" + share["url"].split("/", 3)[3]


# --- sign-in ---------------------------------------------------------------------------


def test_right_token_signs_in_with_a_strict_session_cookie(client):
    """The admin token opens the dashboard: an HttpOnly, SameSite=Strict cookie, no token in the URL."""
    add_site(client)
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard"
    cookie = cookie_header(response, "va_session")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie
    assert ADMIN_TOKEN not in cookie
    home = client.get("/dashboard")
    assert home.status_code == 200 and "travinh" in home.get_data(as_text=True)
    assert home.headers["Content-Security-Policy"] == CSP
    assert home.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(("proxies", "environ", "secure"), [
    (0, {"base_url": "https://localhost"}, True),
    (1, {"headers": {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}}, True),
    (0, {"headers": {"X-Forwarded-Proto": "https"}}, False),
], ids=["https", "behind a trusted https proxy", "untrusted header"])
def test_session_cookie_is_secure_over_https(app_config, proxies, environ, secure):
    """Secure when the request is HTTPS, directly or as a trusted proxy says; never on a bare header's word."""
    client = create_app({**app_config, "TRUSTED_PROXIES": proxies}).test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/signin", **environ)
                      .get_data(as_text=True)).group(1)
    response = client.post("/dashboard/signin", data={"csrf": token, "token": ADMIN_TOKEN}, **environ)
    assert response.status_code == 303
    assert ("; Secure" in cookie_header(response, "va_session")) is secure


def test_wrong_token_answers_the_form_with_a_message_and_no_session(client):
    """A wrong token: 401, the form again with a message, no session cookie."""
    response = sign_in(client, token="x" * 40)
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "Mã không đúng, đã bị thu hồi hoặc đã hết hạn." in text and 'name="token"' in text
    assert not cookie_header(response, "va_session")
    assert client.get("/dashboard").status_code == 303


def test_signin_without_the_form_token_is_refused(client):
    """A sign-in POST that did not come from our form (login CSRF) is refused, token or not."""
    client.get("/dashboard/signin")
    response = client.post("/dashboard/signin", data={"token": ADMIN_TOKEN, "csrf": "forged"})
    assert response.status_code == 400 and not cookie_header(response, "va_session")


def test_attempts_are_limited_per_address_and_the_address_is_not_stored(client, redis_client, clock):
    """The 11th attempt in a minute from one address is refused (429), even with the right token;
    another address may still sign in; a minute later this one may too; Redis holds no address."""
    for _ in range(10):
        assert sign_in(client, token="y" * 40, ip="203.0.113.50").status_code == 401
    refused = sign_in(client, ip="203.0.113.50")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert "Quá nhiều lần thử" in refused.get_data(as_text=True) and not cookie_header(refused, "va_session")
    assert sign_in(client.application.test_client(), ip="203.0.113.51").status_code == 303
    stored = [k.decode() for k in redis_client.scan_iter("va:signin:*")]
    assert stored and not any("203.0.113" in k for k in stored)
    assert all(0 < redis_client.ttl(k) <= 180 for k in stored)
    clock.now += timedelta(minutes=1)
    assert sign_in(client, ip="203.0.113.50").status_code == 303


def test_signout_needs_the_session_csrf_token(client):
    """Sign-out without the session's CSRF token is refused; with it, the session ends."""
    sign_in(client)
    assert client.post("/dashboard/signout", data={"csrf": "nope"}).status_code == 400
    assert client.get("/dashboard").status_code == 200
    response = client.post("/dashboard/signout", data={"csrf": session_csrf(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/signin?bye=1"
    assert "va_session=;" in cookie_header(response, "va_session")
    assert client.get("/dashboard").status_code == 303


def test_session_expires_after_its_lifetime(app_config, clock):
    """A session older than DASHBOARD_SESSION_HOURS is no session: back to the form, which says why."""
    client = create_app({**app_config, "CLOCK": clock, "DASHBOARD_SESSION_HOURS": 2}).test_client()
    sign_in(client)
    clock.now += timedelta(hours=1, minutes=59)
    assert client.get("/dashboard").status_code == 200
    clock.now += timedelta(minutes=2)
    response = client.get("/dashboard")
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/signin?expired=1"
    assert "Phiên làm việc đã hết" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_new_admin_token_or_a_forged_cookie_signs_everyone_out(app_config, clock):
    """The session key derives from ADMIN_TOKEN: a new token ends every session; a forged cookie is none."""
    client = create_app({**app_config, "CLOCK": clock}).test_client()
    sign_in(client)
    cookie = client.get_cookie("va_session", path="/dashboard").value
    other = create_app({**app_config, "CLOCK": clock, "ADMIN_TOKEN": "another-admin-token-of-32-characters-x"})
    stranger = other.test_client()
    stranger.set_cookie("va_session", cookie, path="/dashboard")
    assert stranger.get("/dashboard").status_code == 303
    client.set_cookie("va_session", cookie[:-3] + "AAA", path="/dashboard")
    assert client.get("/dashboard").status_code == 303


def test_a_changed_admin_token_ends_operator_sessions_even_with_secret_key(app_config, clock):
    """With SECRET_KEY set, another instance with the same settings reads the session; one whose
    ADMIN_TOKEN changed (or was removed) refuses it: rotating the token signs the operator out."""
    key = "Zr0v9c3f2yPq8WcJtqkS0h3vO4pD7mXbLwA1nEo6uIk"
    client = create_app({**app_config, "CLOCK": clock, "SECRET_KEY": key}).test_client()
    assert sign_in(client).status_code == 303
    cookie = client.get_cookie("va_session", path="/dashboard").value
    same = create_app({**app_config, "CLOCK": clock, "SECRET_KEY": key}).test_client()
    same.set_cookie("va_session", cookie, path="/dashboard")
    assert same.get("/dashboard").status_code == 200
    for token in ("another-admin-token-of-32-characters-x", ""):
        rotated = create_app({**app_config, "CLOCK": clock, "SECRET_KEY": key, "ADMIN_TOKEN": token}).test_client()
        rotated.set_cookie("va_session", cookie, path="/dashboard")
        answer = rotated.get("/dashboard")
        assert answer.status_code == 303 and "/dashboard/signin" in answer.headers["Location"], token


def test_without_admin_token_the_dashboard_is_off(app_config):
    """No ADMIN_TOKEN and no SECRET_KEY: the form says the dashboard is off (403), nothing signs in."""
    client = create_app({**app_config, "ADMIN_TOKEN": ""}).test_client()
    response = client.get("/dashboard/signin")
    assert response.status_code == 403 and "ADMIN_TOKEN" in response.get_data(as_text=True)
    assert client.post("/dashboard/signin", data={"token": ""}).status_code == 403


def test_language_switch_is_remembered(client):
    """?lang=en answers in English and remembers it in a cookie; numbers follow the language."""
    add_site(client)
    sign_in(client)
    response = client.get("/dashboard?lang=en")
    assert '<html lang="en">' in response.get_data(as_text=True)
    assert "va_lang=en" in cookie_header(response, "va_lang")
    assert '<html lang="en">' in client.get("/dashboard/sites/travinh").get_data(as_text=True)
    assert '<html lang="vi">' in client.get("/dashboard/sites/travinh?lang=vi").get_data(as_text=True)


# --- share links -----------------------------------------------------------------------


def test_share_link_opens_one_site_read_only(client):
    """A share link signs in to its site only (the secret leaves the URL at once); other sites, the
    operator's screen and the admin API are refused."""
    add_site(client)
    add_site(client, site="hue", domains=("hue.gov.vn",))
    share = make_share(client, label="Biên tập viên", expires_in_days=30)
    assert share["label"] == "Biên tập viên" and share["expires"].startswith("2026-12-28")
    response = client.get(secret_path(share))
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/sites/travinh"
    assert share["url"].rsplit(".", 1)[1] not in cookie_header(response, "va_session")
    screen = client.get("/dashboard/sites/travinh")
    assert screen.status_code == 200 and "Chỉ xem" in screen.get_data(as_text=True)
    assert share["url"].rsplit(".", 1)[1] not in screen.get_data(as_text=True)
    assert client.get("/dashboard/sites/hue").status_code == 403
    assert client.get("/dashboard/sites/hue/history.csv").status_code == 403
    assert client.get("/dashboard/sites/nosuch").status_code == 403
    assert client.get("/dashboard").status_code == 403
    assert client.get("/api/v1/sites/travinh/history").status_code == 401
    assert client.post("/api/v1/sites/travinh/shares", json={}).status_code == 401


def test_shares_are_listed_without_secrets_and_revoked(client):
    """GET lists shares without their secret or its hash; DELETE revokes, and the share's open
    session stops at its next request."""
    add_site(client)
    share = make_share(client, label="editors")
    client.get(secret_path(share))
    assert client.get("/dashboard/sites/travinh").status_code == 200
    listed = client.get("/api/v1/sites/travinh/shares", headers=ADMIN).get_json()
    assert listed == {"site": "travinh", "shares": [{"id": share["id"], "label": "editors",
                                                    "created": share["created"], "expires": None}]}
    assert client.delete(f"/api/v1/sites/travinh/shares/{share['id']}", headers=ADMIN).status_code == 204
    response = client.get("/dashboard/sites/travinh")
    assert response.status_code == 303 and "va_session=;" in cookie_header(response, "va_session")
    assert client.get(secret_path(share)).status_code == 404
    assert client.delete(f"/api/v1/sites/travinh/shares/{share['id']}", headers=ADMIN).status_code == 404


def test_share_secret_is_stored_only_as_a_hash(client, redis_client):
    """Redis keeps the SHA-256 of a share's secret under the site's hash tag, never the secret."""
    add_site(client)
    share = make_share(client)
    key = share["url"].rsplit(".", 1)[1]
    stored = redis_client.hgetall("va:{travinh}:shares")
    assert list(stored) == [share["id"].encode()]
    assert key.encode() not in stored[share["id"].encode()]


def test_expired_or_wrong_share_links_are_refused(client, clock):
    """A share past its expiry, or with a wrong key, signs nobody in; an open session of it ends."""
    add_site(client)
    share = make_share(client, expires_in_days=1)
    assert client.get(secret_path(share)[:-4] + "abcd").status_code == 404
    assert client.get("/dashboard/share/garbage").status_code == 404
    assert client.get(secret_path(share)).status_code == 303
    clock.now += timedelta(days=1, seconds=1)
    assert client.get("/dashboard/sites/travinh").status_code == 303
    assert client.get(secret_path(share)).status_code == 404
    assert client.get("/api/v1/sites/travinh/shares", headers=ADMIN).get_json()["shares"] == []


@pytest.mark.parametrize(("body", "status"), [
    ({"label": 5}, 400), ({"label": "x" * 201}, 400), ({"expires_in_days": 0}, 400),
    ({"expires_in_days": "7"}, 400), ({"colour": "red"}, 400), ([], 400),
], ids=["label not text", "label too long", "no days", "days as text", "unknown field", "not an object"])
def test_bad_share_requests_are_clear_400s(client, body, status):
    add_site(client)
    response = client.post("/api/v1/sites/travinh/shares", json=body, headers=ADMIN)
    assert response.status_code == status and response.get_json()["error"]["code"] == "bad_request"


def test_share_api_needs_the_token_and_a_known_site(client):
    add_site(client)
    assert client.post("/api/v1/sites/travinh/shares", json={}).status_code == 401
    assert client.post("/api/v1/sites/nosuch/shares", json={}, headers=ADMIN).status_code == 404
    assert client.delete("/api/v1/sites/travinh/shares/zzz", headers=ADMIN).status_code == 404


# --- screens and CSV -------------------------------------------------------------------


@pytest.fixture
def traffic(client, app):
    add_site(client)
    seed_history(app.extensions["store"], "travinh", 40, NOW)
    sign_in(client)
    return client


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.mark.parametrize("days", [30, 90])
def test_history_csv_equals_the_history_api(traffic, days):
    """The daily history download has the history API's rows, under a header row."""
    rows = read_csv(traffic.get(f"/dashboard/sites/travinh/history.csv?days={days}"))
    api = traffic.get(f"/api/v1/sites/travinh/history?days={days}", headers=ADMIN).get_json()["days"]
    assert rows[0] == ["date", "visits", "pageviews", "visitors"]
    assert rows[1:] == [[d["date"], str(d["visits"]), str(d["pageviews"]), str(d["visitors"])] for d in api]
    assert sum(d["pageviews"] for d in api) > 100


@pytest.mark.parametrize("period", ["today", "week", "month", "all"])
def test_top_csv_equals_the_top_api_with_vietnamese_titles_and_no_formulas(traffic, period):
    """The most-read download has /top's pages and views; titles in Vietnamese; a title that would
    run as a formula starts with an apostrophe."""
    rows = read_csv(traffic.get(f"/dashboard/sites/travinh/top.csv?period={period}"))
    api = traffic.get(f"/api/v1/sites/travinh/top?period={period}&limit=50").get_json()["pages"]
    assert rows[0] == ["path", "title", "views"]
    expected = [[p["path"], ("'" + p["title"]) if p["title"].startswith("=") else p["title"], str(p["views"])]
                for p in api]
    assert rows[1:] == expected and len(expected) >= 3
    assert any(r[1] == "Lịch cúp điện tuần này" for r in rows)
    assert any(r[1].startswith("'=HYPERLINK") for r in rows)


def test_top_7_and_30_days_sum_the_days(traffic):
    """'7d' and '30d' are the sums of the last 7 and 30 local days' page views."""
    rows = {r[0]: int(r[2]) for r in read_csv(traffic.get("/dashboard/sites/travinh/top.csv?period=30d"))[1:]}
    month = traffic.get("/api/v1/sites/travinh/history?days=30", headers=ADMIN).get_json()["days"]
    assert sum(rows.values()) == sum(d["pageviews"] for d in month)
    week = {r[0]: int(r[2]) for r in read_csv(traffic.get("/dashboard/sites/travinh/top.csv?period=7d"))[1:]}
    last7 = traffic.get("/api/v1/sites/travinh/history?days=7", headers=ADMIN).get_json()["days"]
    assert sum(week.values()) == sum(d["pageviews"] for d in last7)


def test_bad_csv_period_is_a_400_page(traffic):
    response = traffic.get("/dashboard/sites/travinh/top.csv?period=decade")
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_site_screen_shows_numbers_with_changes_and_escapes_titles(client, app):
    """The site screen: the five periods with their change, and page titles as text, never HTML."""
    add_site(client)
    store = app.extensions["store"]
    from service.model.hits import Hit
    store.record_hits([Hit("travinh", "v1", "pageview", NOW - timedelta(days=1), "Asia/Ho_Chi_Minh", "c",
                           page="/x", title="<script>alert(1)</script> Tin")], "t1")
    store.record_hits([Hit("travinh", f"v{n}", "pageview", NOW, "Asia/Ho_Chi_Minh", "c", page="/x") for n in range(3)],
                      "t2")
    sign_in(client)
    text = client.get("/dashboard/sites/travinh").get_data(as_text=True)
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; Tin" in text
    assert "+200%" in text  # today 3 visits against yesterday's 1
    for words in ("Hôm nay", "Hôm qua", "Trong tuần", "Tháng này", "Tất cả"):
        assert words in text
    assert "<style" not in text and "style=" not in text and "<script>" not in text


def test_operator_screen_sorts_by_any_column(client, app):
    """?sort= orders the sites by the column, descending for numbers; the active column says so."""
    for site, hits in (("aa", 1), ("bb", 3), ("cc", 2)):
        add_site(client, site=site, domains=(f"{site}.vn",))
        seed = [__import__("service.model.hits", fromlist=["Hit"]).Hit(site, f"v{n}", "pageview", NOW,
                                                                 "Asia/Ho_Chi_Minh", "c") for n in range(hits)]
        app.extensions["store"].record_hits(seed, f"s-{site}")
    sign_in(client)
    order = lambda html: re.findall(r'<th scope="row"><a href="/dashboard/sites/([a-z]+)"', html)  # noqa: E731
    assert order(client.get("/dashboard").get_data(as_text=True)) == ["aa", "bb", "cc"]
    page = client.get("/dashboard?sort=today").get_data(as_text=True)
    assert order(page) == ["bb", "cc", "aa"] and 'aria-sort="descending"' in page
    assert order(client.get("/dashboard?sort=today&dir=asc").get_data(as_text=True)) == ["aa", "cc", "bb"]
    assert order(client.get("/dashboard?sort=bogus").get_data(as_text=True)) == ["aa", "bb", "cc"]


def test_unknown_site_and_redis_down_are_pages_not_500s(client, app_config, clock):
    """An admin asking for an unknown site gets a 404 page; Redis away gets a 503 page."""
    sign_in(client)
    assert client.get("/dashboard/sites/nosuch").status_code == 404
    assert client.get("/dashboard/sites/Bad_Id").status_code == 404
    from service.ops.redis_process import free_port
    dead = create_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REDIS_TIMEOUT_SECONDS": 0.1,
                       "CLOCK": clock})
    down = dead.test_client()
    down.set_cookie("va_session", client.get_cookie("va_session", path="/dashboard").value, path="/dashboard")
    response = down.get("/dashboard")
    assert response.status_code == 503 and response.mimetype == "text/html"


def test_sessions_hold_across_gunicorn_instances(redis_url, tmp_path, gunicorn_processes):
    """A session signed by one gunicorn instance (two workers each) is read by another: every
    process derives the same key from ADMIN_TOKEN."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    from service.ops.redis_process import free_port

    first, second = free_port(), free_port()
    gunicorn_processes(redis_url, tmp_path / "a", first)
    gunicorn_processes(redis_url, tmp_path / "b", second)
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    form = opener.open(f"http://127.0.0.1:{first}/dashboard/signin").read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    with pytest.raises(urllib.error.HTTPError) as answer:  # the 303 to /dashboard, not followed
        opener.open(f"http://127.0.0.1:{first}/dashboard/signin",
                    urllib.parse.urlencode({"csrf": token, "token": ADMIN_TOKEN}).encode())
    assert answer.value.code == 303
    # Cookies are per host, not per port: the jar sends the session to the second instance too.
    statuses = {opener.open(f"http://127.0.0.1:{port}/dashboard").status for port in (first, second) * 4}
    assert statuses == {200}


def test_not_counted_panel_shows_the_hits_a_test_sent(client, app):
    """Bots, prefetches and foreign pages sent through the hit API show in the panel's row of the
    day, from the per-day tally in Redis; the panel lists 14 days."""
    add_site(client)
    for agent in ("Mozilla/5.0 (compatible; Googlebot/2.1)", "Mozilla/5.0 (compatible; bingbot/2.0)",
                  "HeadlessChrome/120.0"):
        hit(client, agent=agent)
    hit(client, headers={"Sec-Purpose": "prefetch"})
    hit(client, url="https://evil.example/")
    hit(client, headers={"Origin": "https://evil.example"})
    hit(client, agent="")
    assert app.extensions["recorder"].flush()
    sign_in(client)
    text = client.get("/dashboard/sites/travinh").get_data(as_text=True).split("data-not-counted")[1]
    today = NOW.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    row = re.search(rf'<tr data-date="{today}">(.*?)</tr>', text, re.S).group(1)
    cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row)
    # bot, prefetch, foreign_domain, rate_limited, ip_limited, no_user_agent, user_agent_too_long, other
    assert cells == ["3", "1", "2", "0", "0", "1", "0", "0"]
    assert len(re.findall(r'<tr data-date="\d{4}-\d\d-\d\d">', text)) == 14


# --- the not-counted table against the outcomes ----------------------------------------

NOT_TALLIED = {
    Outcome.VISIT: "counted", Outcome.PAGEVIEW: "counted", Outcome.PING: "counted",
    Outcome.UNKNOWN_SITE: "no site to tally it under", Outcome.INVALID: "refused before its site is read",
    Outcome.DROPPED: "lost in the process, before Redis", Outcome.REJECTED: "set aside on disk, not written",
    Outcome.DUPLICATE: "a retried batch, tallied the first time", Outcome.QUEUED: "not an ending: buffered",
}
"""Outcomes never written to a site's per-day not-counted tally, and why."""

SUMMED_AS_OTHER: frozenset[Outcome] = frozenset()
"""Tallied outcomes the table leaves to its 'other' column on purpose (none: each has a column)."""

FLOOD_IP, REFRESH_IP = "198.51.100.30", "198.51.100.20"
TALLY_CAPS = {"VISITOR_HITS_PER_MINUTE": 2, "IP_HITS_PER_MINUTE": 10}


def send_flood(client, n: int) -> None:
    """One address past IP_HITS_PER_MINUTE: the first refused in the hit script, the rest by its block."""
    for i in range(TALLY_CAPS["IP_HITS_PER_MINUTE"] + n):
        hit(client, ip=FLOOD_IP, agent=CHROME.replace("131.0.0.0", f"131.0.{i}.0"))


def send_refreshes(client, n: int) -> None:
    """One visitor past VISITOR_HITS_PER_MINUTE (within the address's limit)."""
    for _ in range(TALLY_CAPS["VISITOR_HITS_PER_MINUTE"] + n):
        hit(client, ip=REFRESH_IP)


def repeat(**how):
    """A sender of ``n`` hits made ``how`` (the hit helper's arguments)."""
    def send(client, n: int) -> None:
        for _ in range(n):
            hit(client, **how)
    return send


TALLIED = {  # how hits sent through the API end with each tallied outcome; a different number of each
    Outcome.BOT: (1, repeat(agent="Mozilla/5.0 (compatible; Googlebot/2.1)")),
    Outcome.PREFETCH: (2, repeat(headers={"Sec-Purpose": "prefetch"})),
    Outcome.FOREIGN_DOMAIN: (3, repeat(url="https://evil.example/")),
    Outcome.RATE_LIMITED: (4, send_refreshes),
    Outcome.IP_LIMITED: (5, send_flood),
    Outcome.NO_USER_AGENT: (6, repeat(agent="")),
    Outcome.USER_AGENT_TOO_LONG: (7, repeat(agent="Mozilla/5.0 " + "x" * 600)),
}
"""Outcomes a site's per-day not-counted tally holds, each with how many hits the test sends and how."""


def test_not_counted_columns_are_outcomes_and_every_tallied_outcome_has_one():
    """Each column of the not-counted table is a way a hit ends, and no way a hit is left out hides in 'other'."""
    from service.dashboard.report import NOT_COUNTED_REASONS

    assert set(NOT_COUNTED_REASONS) <= {str(o) for o in Outcome}, NOT_COUNTED_REASONS
    # A new Outcome must be sorted here: either the test sends hits ending with it, or it is never tallied.
    assert set(TALLIED) & set(NOT_TALLIED) == set()
    assert set(Outcome) - set(TALLIED) - set(NOT_TALLIED) == set()
    assert {str(o) for o in TALLIED if o not in SUMMED_AS_OTHER} == set(NOT_COUNTED_REASONS)


def test_not_counted_table_names_every_reason_hits_were_left_out(app_config, clock, redis_client):
    """Hits left out for each reason (agent filters, domains, both rate limits) each show in their own
    column of today's not-counted row, with nothing unexplained under 'other'."""
    from service.storage import keys

    app = create_app({**app_config, **TALLY_CAPS, "CLOCK": clock})
    client = app.test_client()
    add_site(client)
    for count, send in TALLIED.values():
        send(client, count)
    assert app.extensions["recorder"].flush()
    today = NOW.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    tally = {k.decode(): int(v) for k, v in redis_client.hgetall(keys.not_counted("travinh", today)).items()}
    assert tally == {str(outcome): count for outcome, (count, _) in TALLIED.items()}
    sign_in(client)
    text = client.get("/dashboard/sites/travinh").get_data(as_text=True).split("data-not-counted")[1]
    columns = re.findall(r'<th scope="col" class="num" data-reason="([^"]+)">', text) + ["other"]
    row = re.search(rf'<tr data-date="{today.isoformat()}">(.*?)</tr>', text, re.S).group(1)
    cells = [int(c) for c in re.findall(r'<td class="num[^"]*">([^<]*)</td>', row)]
    other = sum(count for outcome, (count, _) in TALLIED.items() if outcome in SUMMED_AS_OTHER)
    assert dict(zip(columns, cells, strict=True)) == {**{r: tally.get(r, 0) for r in columns[:-1]}, "other": other}
    assert set(tally) <= set(columns) | {str(o) for o in SUMMED_AS_OTHER}  # nothing written the table cannot show


FORMULA_HITS = [
    ("https://travinh.gov.vn/report;=1+1;", 'Tin;=HYPERLINK("http://x","y")'),
    ("https://travinh.gov.vn/bao-cao,-2+3", "Tin,+cmd|' /C calc'!A0"),
    ("https://travinh.gov.vn/tab%09=1", "Tin\t@SUM(1,2)\t-3"),
    ("https://travinh.gov.vn/%09=2", "=1+1"),
    ("https://travinh.gov.vn/x;%20=3", "Tin; \"=4"),
]
"""Page URLs and titles a reader can send that a spreadsheet would run, split at ``,``, ``;`` or tab."""


def test_csv_cells_run_as_no_formula_whatever_the_separator(client):
    """No cell of a CSV download, read with `,`, `;` or tab as separator, begins with a formula character."""
    add_site(client)
    for n, (url, title) in enumerate(FORMULA_HITS):
        assert hit(client, url=url, title=title, ip=f"203.0.113.{n + 1}").status_code == 204
    sign_in(client)
    for download in ("top.csv?period=today", "top.csv?period=7d", "history.csv?days=30"):
        response = client.get(f"/dashboard/sites/travinh/{download}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        text = response.get_data().decode("utf-8-sig")
        if download.startswith("top"):
            assert "HYPERLINK" in text and "report" in text  # the hostile rows are there, guarded
        for delimiter in (",", ";", "\t"):
            for row in csv.reader(io.StringIO(text), delimiter=delimiter):
                for value in row:
                    assert not value.strip().strip('"').strip().startswith(("=", "+", "-", "@")), \
                        (download, delimiter, value)
                    assert not value.lstrip(' "').startswith(("\t", "\r")), (download, delimiter, value)
