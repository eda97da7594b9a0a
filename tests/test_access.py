"""Who may see and change what: the operator, site tokens, share sessions; sessions that end; guessing slowed."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY

from service import create_app

from .conftest import ADMIN_TOKEN
from .helpers import ADMIN, add_site
from .test_dashboard import Clock, form_token, session_csrf

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def app(app_config, clock):
    return create_app({**app_config, "CLOCK": clock})


@pytest.fixture
def roomy(app_config, clock):
    """An app whose failed-attempt limit stays out of the way of a table of refused callers."""
    return create_app({**app_config, "CLOCK": clock, "AUTH_FAILURES_PER_MINUTE": 10_000})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def make_token(client, sites, days=None, label="Phòng Văn hóa") -> dict:
    body = {"label": label, "sites": sites, **({"expires_in_days": days} if days else {})}
    answer = client.post("/api/v1/tokens", json=body, headers=ADMIN)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


@pytest.fixture
def principals(roomy, clock):
    """Sites a and b, and a bearer header for each kind of caller (the expired one made 2 days ago)."""
    client = roomy.test_client()
    for site in ("site-a", "site-b"):
        add_site(client, site, domains=(f"{site}.gov.vn",))
    clock.now = NOW - timedelta(days=2)
    expired = make_token(client, ["site-a"], days=1)["token"]
    clock.now = NOW
    revoked = make_token(client, ["site-a"])
    assert client.delete(f"/api/v1/tokens/{revoked['id']}", headers=ADMIN).status_code == 204
    return {"operator": ADMIN, "token a": bearer(make_token(client, ["site-a"])["token"]),
            "token b": bearer(make_token(client, ["site-b"])["token"]), "revoked": bearer(revoked["token"]),
            "expired": bearer(expired), "none": {}}


CSV = ("text/csv", b"path,views\n/a,5\n")
ROUTES = [
    # (method, path, body, {caller: status}); unlisted callers: revoked and expired 401, none 401
    ("PUT", "/api/v1/sites/site-a", {"domains": ["site-a.gov.vn"]}, {"operator": 200, "token a": 403, "token b": 403}),
    ("GET", "/api/v1/sites/site-a", None, {"operator": 200, "token a": 200, "token b": 403}),
    ("GET", "/api/v1/sites/nosite", None, {"operator": 404, "token a": 403, "token b": 403}),
    ("GET", "/api/v1/sites", None, {"operator": 200, "token a": 200, "token b": 200}),
    ("PUT", "/api/v1/sites", ("text/csv", b"site,domains\nsite-c,c.gov.vn\n"),
     {"operator": 200, "token a": 403, "token b": 403}),
    ("DELETE", "/api/v1/sites/nosite", None, {"operator": 404, "token a": 403, "token b": 403}),
    ("PUT", "/api/v1/sites/site-a/baseline", {"visits": 5}, {"operator": 200, "token a": 200, "token b": 403}),
    ("GET", "/api/v1/sites/site-a/baseline", None, {"operator": 200, "token a": 200, "token b": 403}),
    ("PUT", "/api/v1/sites/site-a/pages/baseline", CSV, {"operator": 200, "token a": 200, "token b": 403}),
    ("GET", "/api/v1/sites/site-a/history?days=3", None, {"operator": 200, "token a": 200, "token b": 403}),
    ("POST", "/api/v1/sites/site-a/shares", {"label": "x"}, {"operator": 201, "token a": 201, "token b": 403}),
    ("GET", "/api/v1/sites/site-a/shares", None, {"operator": 200, "token a": 200, "token b": 403}),
    ("DELETE", "/api/v1/sites/site-a/shares/0123456789ab", None, {"operator": 404, "token a": 404, "token b": 403}),
    ("POST", "/api/v1/tokens", {"sites": ["site-a"]}, {"operator": 201, "token a": 403, "token b": 403}),
    ("PUT", "/api/v1/groups/huyen", {"label": "Huyện"}, {"operator": 201, "token a": 403, "token b": 403}),
    ("GET", "/api/v1/tokens", None, {"operator": 200, "token a": 403, "token b": 403}),
    ("DELETE", "/api/v1/tokens/0123456789abcdef", None, {"operator": 404, "token a": 403, "token b": 403}),
    ("GET", "/api/v1/sessions", None, {"operator": 200, "token a": 403, "token b": 403}),
    ("DELETE", "/api/v1/sessions/nosession", None, {"operator": 404, "token a": 403, "token b": 403}),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_every_admin_route_answers_each_caller_as_its_role_allows(roomy, principals, method, path, body, expected):
    """Each admin route answers the operator, a token of the site, a token of another site, a revoked or
    expired token and no token with the status its role allows (403 alike for a site that exists or not)."""
    client = roomy.test_client()
    for caller, headers in principals.items():
        want = expected.get(caller, 401)
        if isinstance(body, tuple):
            answer = client.open(path, method=method, data=body[1], content_type=body[0], headers=headers)
        else:
            answer = client.open(path, method=method, json=body, headers=headers)
        assert answer.status_code == want, (caller, answer.status_code, answer.get_data()[:200])
        if want == 403:
            assert answer.get_json()["error"]["code"] == "forbidden"


def test_a_site_token_lists_only_its_sites(roomy, principals):
    """The sites list answers a site token its own sites, and the operator all of them."""
    client = roomy.test_client()
    assert [r["site"] for r in client.get("/api/v1/sites", headers=principals["operator"]).get_json()["sites"]] == [
        "site-a", "site-b"]
    assert [r["site"] for r in client.get("/api/v1/sites", headers=principals["token b"]).get_json()["sites"]] == [
        "site-b"]


def test_tokens_are_shown_once_and_stored_as_a_hash(client, redis_client):
    """The token is in the creation answer only: the list has no secret, and Redis holds only its hash."""
    add_site(client, "site-a", domains=("site-a.gov.vn",))
    made = make_token(client, ["site-a"])
    listed = client.get("/api/v1/tokens", headers=ADMIN).get_json()["tokens"]
    assert [t["id"] for t in listed] == [made["id"]] and "token" not in listed[0] and "hash" not in listed[0]
    stored = b"".join(k + b"".join(redis_client.hgetall(k).values()) if redis_client.type(k) == b"hash"
                      else k for k in redis_client.keys("*"))
    assert made["token"].split(".")[2].encode() not in stored
    assert client.get("/api/v1/sites/site-a", headers=bearer(made["token"])).status_code == 200
    assert client.get("/api/v1/tokens", headers=ADMIN).get_json()["tokens"][0]["last_used"] == NOW.isoformat()


@pytest.mark.parametrize(("body", "code"), [
    ({"sites": []}, 400), ({"sites": ["BAD ID"]}, 400), ({"sites": ["site-a"], "expires_in_days": 0}, 400),
    ({"sites": ["site-a"], "extra": 1}, 400), ({"sites": ["nosite"]}, 404), ([], 400),
])
def test_a_bad_token_request_changes_nothing(client, body, code):
    """A malformed token request, or one for an unknown site, is refused and makes no token."""
    add_site(client, "site-a", domains=("site-a.gov.vn",))
    assert client.post("/api/v1/tokens", json=body, headers=ADMIN).status_code == code
    assert client.get("/api/v1/tokens", headers=ADMIN).get_json()["tokens"] == []


def failures() -> float:
    return sum(s.value for m in REGISTRY.collect() if m.name == "va_auth_failures"
               for s in m.samples if s.name == "va_auth_failures_total")


def test_guessing_is_refused_for_the_rest_of_the_minute_per_address(client, clock):
    """After 10 wrong tokens from one address, it gets 429 with Retry-After, even with the right token, until
    the minute is over; another address still works; each failure is counted in the metric."""
    before = failures()
    guesser = {"REMOTE_ADDR": "203.0.113.66"}
    for n in range(10):
        assert client.get("/api/v1/sites", headers=bearer(f"wrong-{n}"), environ_base=guesser).status_code == 401
    refused = client.get("/api/v1/sites", headers=ADMIN, environ_base=guesser)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert client.get("/api/v1/sites", headers=ADMIN, environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 200
    # The dashboard's sign-in form shares the same limit.
    token = form_token(client)
    form = client.post("/dashboard/signin", data={"csrf": token, "token": ADMIN_TOKEN}, environ_base=guesser)
    assert form.status_code == 429
    assert failures() - before == 10
    clock.now = NOW + timedelta(seconds=61)
    assert client.get("/api/v1/sites", headers=ADMIN, environ_base=guesser).status_code == 200


def test_no_token_at_all_is_no_guess(client):
    """Requests without any token (a curl without -H) are 401 but never lock an address out."""
    for _ in range(15):
        assert client.get("/api/v1/sites").status_code == 401
    assert client.get("/api/v1/sites", headers=ADMIN).status_code == 200


def sign_in_with(client, token: str, ip: str = "198.51.100.4"):
    return client.post("/dashboard/signin", data={"csrf": form_token(client), "token": token},
                       environ_base={"REMOTE_ADDR": ip})


def test_signing_out_ends_the_session_on_the_server(app, client):
    """After sign-out, the old cookie replayed opens nothing: the session is gone from Redis."""
    add_site(client)
    assert sign_in_with(client, ADMIN_TOKEN).status_code == 303
    cookie = client.get_cookie("va_session", path="/dashboard").value
    assert client.post("/dashboard/signout", data={"csrf": session_csrf(client)}).status_code == 303
    replay = app.test_client()
    replay.set_cookie("va_session", cookie, path="/dashboard")
    answer = replay.get("/dashboard")
    assert answer.status_code == 303 and "/dashboard/signin" in answer.headers["Location"]


def test_the_operator_lists_and_ends_sessions(app, client):
    """The sessions API lists a token's dashboard session with its sites; ending it signs that browser out."""
    add_site(client, "site-a", domains=("site-a.gov.vn",))
    made = make_token(client, ["site-a"])
    browser = app.test_client()
    assert sign_in_with(browser, made["token"]).status_code == 303
    sessions = client.get("/api/v1/sessions", headers=ADMIN).get_json()["sessions"]
    assert [(s["role"], s["credential"], s["sites"]) for s in sessions] == [("token", made["id"], ["site-a"])]
    assert browser.get("/dashboard").status_code == 200
    assert client.delete(f"/api/v1/sessions/{sessions[0]['id']}", headers=ADMIN).status_code == 204
    assert browser.get("/dashboard").status_code == 303


def test_a_token_signs_in_to_its_own_sites_only(app, client):
    """A site token's dashboard lists its sites, opens their screens, and refuses other sites and the Tokens screen."""
    for site in ("site-a", "site-b", "site-c"):
        add_site(client, site, domains=(f"{site}.gov.vn",))
    made = make_token(client, ["site-a", "site-c"], label="Huyện Cầu Kè")
    browser = app.test_client()
    assert sign_in_with(browser, made["token"]).status_code == 303
    home = browser.get("/dashboard").get_data(as_text=True)
    assert re.findall(r">(site-[abc])</a>", home) == ["site-a", "site-c"] and "Huyện Cầu Kè" in home
    assert browser.get("/dashboard/sites/site-c").status_code == 200
    assert browser.get("/dashboard/sites/site-b").status_code == 403
    assert browser.get("/dashboard/sites/nosite").status_code == 403
    assert browser.get("/dashboard/tokens").status_code == 403


def test_revoking_a_token_ends_its_sessions_and_calls_at_once(app, client):
    """A revoked token is refused at its next call, and the dashboard session it opened at its next page."""
    add_site(client, "site-a", domains=("site-a.gov.vn",))
    made = make_token(client, ["site-a"])
    browser = app.test_client()
    assert sign_in_with(browser, made["token"]).status_code == 303
    assert browser.get("/dashboard/sites/site-a").status_code == 200
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=ADMIN).status_code == 204
    assert browser.get("/dashboard/sites/site-a").status_code == 303
    assert client.get("/api/v1/sites/site-a", headers=bearer(made["token"])).status_code == 401


def test_an_expired_token_session_ends_when_the_token_does(app, client, clock):
    """A session signed in with a token that expires ends at the token's expiry, not the session's."""
    add_site(client, "site-a", domains=("site-a.gov.vn",))
    made = make_token(client, ["site-a"], days=1)
    browser = app.test_client()
    assert sign_in_with(browser, made["token"]).status_code == 303
    clock.now = NOW + timedelta(hours=11)
    assert browser.get("/dashboard").status_code == 200
    clock.now = NOW + timedelta(days=1, seconds=1)
    assert browser.get("/dashboard").status_code == 303


def share_url(client, site: str) -> str:
    answer = client.post(f"/api/v1/sites/{site}/shares", json={"label": "editors"}, headers=ADMIN)
    return answer.get_json()["url"].replace("http://localhost", "")


def test_a_deleted_site_takes_its_shares_and_token_rights_along(app, client):
    """Deleting a site (without purge) revokes its share links and removes it from tokens; registering the
    same id again revives neither."""
    for site in ("site-a", "site-b"):
        add_site(client, site, domains=(f"{site}.gov.vn",))
    link = share_url(client, "site-a")
    made = make_token(client, ["site-a", "site-b"])
    viewer = app.test_client()
    assert viewer.get(link).status_code == 303 and viewer.get("/dashboard/sites/site-a").status_code == 200
    assert client.delete("/api/v1/sites/site-a", headers=ADMIN).status_code == 204
    add_site(client, "site-a", domains=("other.gov.vn",))
    assert viewer.get("/dashboard/sites/site-a").status_code == 303  # its share session ended
    assert app.test_client().get(link).status_code == 404
    assert client.get("/api/v1/sites/site-a/shares", headers=ADMIN).get_json()["shares"] == []
    token = client.get("/api/v1/tokens", headers=ADMIN).get_json()["tokens"][0]
    assert token["sites"] == ["site-b"]
    assert client.get("/api/v1/sites/site-a", headers=bearer(made["token"])).status_code == 403


def test_a_share_link_asks_before_replacing_a_session(app, client):
    """Opened while signed in as the operator, a share link asks first; only the confirming POST (with the
    session's CSRF token) replaces the session."""
    add_site(client)
    link = share_url(client, "travinh")
    assert sign_in_with(client, ADMIN_TOKEN).status_code == 303
    asked = client.get(link)
    assert asked.status_code == 200 and 'method="post"' in asked.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 200  # still the operator
    assert client.post(link, data={"csrf": "wrong"}).status_code == 400
    assert client.get("/dashboard").status_code == 200
    confirmed = client.post(link, data={"csrf": session_csrf(client)})
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/dashboard/sites/travinh")
    assert client.get("/dashboard").status_code == 403  # a share session now


def test_each_signed_in_person_sees_who_they_are(app, client):
    """The header names the operator, the token's label, or the share's site."""
    add_site(client)
    assert sign_in_with(client, ADMIN_TOKEN).status_code == 303
    assert "người vận hành" in client.get("/dashboard?lang=vi").get_data(as_text=True)
    made = make_token(client, ["travinh"], label="Sở Nội vụ")
    other = app.test_client()
    sign_in_with(other, made["token"])
    assert "Sở Nội vụ" in other.get("/dashboard/sites/travinh").get_data(as_text=True)


def test_the_tokens_screen_shows_a_new_token_once(app, client):
    """The operator's Tokens screen makes a token, shows it on that answer only (a resent form makes no
    second one), and revokes it."""
    add_site(client)
    assert sign_in_with(client, ADMIN_TOKEN).status_code == 303
    csrf = session_csrf(client)
    screen = client.get("/dashboard/tokens").get_data(as_text=True)
    once = re.search(r'name="once" value="([^"]+)"', screen).group(1)
    form = {"csrf": csrf, "once": once, "label": "Sở Y tế", "sites": "travinh", "expires_in_days": "30"}
    made = client.post("/dashboard/tokens", data=form)
    text = made.get_data(as_text=True)
    assert made.status_code == 201
    secret = re.search(r'id="new-token">(va1\.[^<]+)<', text).group(1)
    assert client.get("/api/v1/sites/travinh", headers=bearer(secret)).status_code == 200
    again = client.post("/dashboard/tokens", data=form)  # a reload sends the same form again
    assert again.status_code == 409 and secret not in again.get_data(as_text=True)
    assert len(client.get("/api/v1/tokens", headers=ADMIN).get_json()["tokens"]) == 1
    listing = client.get("/dashboard/tokens").get_data(as_text=True)
    assert secret not in listing and "Sở Y tế" in listing
    token_id = secret.split(".")[1]
    assert client.post(f"/dashboard/tokens/{token_id}/revoke", data={"csrf": "x"}).status_code == 400
    assert client.post(f"/dashboard/tokens/{token_id}/revoke", data={"csrf": csrf}).status_code == 303
    assert client.get("/api/v1/sites/travinh", headers=bearer(secret)).status_code == 401
    bad = client.post("/dashboard/tokens", data={"csrf": csrf, "once": "x" * 20, "label": "x", "sites": "nosite"})
    assert bad.status_code == 404 and json.dumps(client.get("/api/v1/tokens", headers=ADMIN).get_json()).count('"id"') == 0


def test_revocation_is_seen_by_every_worker_at_once(redis_url, tmp_path):
    """Under real gunicorn with two workers, a revoked token and its dashboard session are refused at their
    very next request, whichever worker answers (nothing is cached per worker); the revoked token's tries
    count as failures across both workers, so the eleventh is refused with 429."""
    import requests

    from service.ops.redis_process import free_port

    from .servers import start_gunicorn, stop_process, worker_pids

    port = free_port()
    process = start_gunicorn(redis_url, tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert len(worker_pids(process.pid)) == 2
        requests.put(f"{base}/api/v1/sites/site-a", json={"domains": ["site-a.gov.vn"]}, headers=ADMIN, timeout=10)
        made = requests.post(f"{base}/api/v1/tokens", json={"sites": ["site-a"]}, headers=ADMIN, timeout=10).json()
        browser = requests.Session()
        form = browser.get(f"{base}/dashboard/signin", timeout=10).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        assert browser.post(f"{base}/dashboard/signin", data={"csrf": csrf, "token": made["token"]},
                            allow_redirects=False, timeout=10).status_code == 303
        for _ in range(10):  # fresh connections, spread over both workers by the kernel
            assert requests.get(f"{base}/api/v1/sites/site-a", headers=bearer(made["token"]), timeout=10).ok
            assert browser.get(f"{base}/dashboard", allow_redirects=False, timeout=10,
                               headers={"Connection": "close"}).status_code == 200
        assert requests.delete(f"{base}/api/v1/tokens/{made['id']}", headers=ADMIN, timeout=10).status_code == 204
        if time.time() % 60 > 40:  # failures count per clock minute: the 20 tries below all in one
            time.sleep(61 - time.time() % 60)
        for attempt in range(20):  # and the failed-attempt limit is shared by the workers: 10, then 429
            assert requests.get(f"{base}/api/v1/sites/site-a", headers=bearer(made["token"]),
                                timeout=10).status_code == (401 if attempt < 10 else 429)
            assert browser.get(f"{base}/dashboard", allow_redirects=False, timeout=10,
                               headers={"Connection": "close"}).status_code == 303
    finally:
        stop_process(process)
