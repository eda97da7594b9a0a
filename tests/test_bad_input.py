"""Bad input of any kind gets a clear 4xx JSON error and changes nothing in Redis."""

from __future__ import annotations

import json
from base64 import b64encode

import pytest

from .conftest import ADMIN_TOKEN, CHROME
from .helpers import ADMIN, add_site

GOOD = {"site": "travinh", "url": "https://travinh.gov.vn/"}


def post_hit(client, body, content_type="text/plain", headers=None):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/v1/hit", data=data, content_type=content_type,
                       headers={"User-Agent": CHROME, **(headers or {})})


HIT_CASES = [
    ("broken json", lambda c: post_hit(c, b'{"site": "travinh", "url": '), 400, "bad_request"),
    ("not utf-8", lambda c: post_hit(c, b'{"site": "\xff\xfe"}'), 400, "bad_request"),
    ("json array", lambda c: post_hit(c, [GOOD]), 400, "bad_request"),
    ("json string", lambda c: post_hit(c, '"hello"'), 400, "bad_request"),
    ("empty body", lambda c: post_hit(c, b""), 400, "bad_request"),
    ("missing site", lambda c: post_hit(c, {"url": GOOD["url"]}), 400, "bad_request"),
    ("missing url", lambda c: post_hit(c, {"site": "travinh"}), 400, "bad_request"),
    ("site upper case", lambda c: post_hit(c, {**GOOD, "site": "TraVinh"}), 400, "bad_request"),
    ("site too long", lambda c: post_hit(c, {**GOOD, "site": "a" * 64}), 400, "bad_request"),
    ("site with slash", lambda c: post_hit(c, {**GOOD, "site": "a/b"}), 400, "bad_request"),
    ("site number", lambda c: post_hit(c, {**GOOD, "site": 12}), 400, "bad_request"),
    ("url relative", lambda c: post_hit(c, {**GOOD, "url": "/tin-tuc"}), 400, "bad_request"),
    ("url javascript", lambda c: post_hit(c, {**GOOD, "url": "javascript:alert(1)"}), 400, "bad_request"),
    ("url ftp", lambda c: post_hit(c, {**GOOD, "url": "ftp://travinh.gov.vn/"}), 400, "bad_request"),
    ("url no host", lambda c: post_hit(c, {**GOOD, "url": "http:///x"}), 400, "bad_request"),
    ("url bad port", lambda c: post_hit(c, {**GOOD, "url": "http://travinh.gov.vn:99999/"}), 400, "bad_request"),
    ("url lone surrogate", lambda c: post_hit(c, '{"site": "travinh", "url": "https://travinh.gov.vn/a\\ud800"}'), 400,
     "bad_request"),
    ("url header injection", lambda c: post_hit(c, {**GOOD, "url": "https://travinh.gov.vn/\r\nX-A: b"}), 400,
     "bad_request"),
    ("url too long", lambda c: post_hit(c, {**GOOD, "url": "https://travinh.gov.vn/" + "a" * 2048}), 400,
     "bad_request"),
    ("url not string", lambda c: post_hit(c, {**GOOD, "url": ["https://travinh.gov.vn/"]}), 400, "bad_request"),
    ("referrer object", lambda c: post_hit(c, {**GOOD, "referrer": {"a": 1}}), 400, "bad_request"),
    ("type unknown", lambda c: post_hit(c, {**GOOD, "type": "click"}), 400, "bad_request"),
    ("body too large", lambda c: post_hit(c, {**GOOD, "referrer": "x" * 5000}), 413, "body_too_large"),
    ("form fields", lambda c: post_hit(c, "site=travinh", "application/x-www-form-urlencoded"), 400,
     "bad_request"),
    ("multipart", lambda c: post_hit(c, "--x\r\n", "multipart/form-data; boundary=x"), 415,
     "unsupported_media_type"),
    ("xml", lambda c: post_hit(c, "<hit/>", "application/xml"), 415, "unsupported_media_type"),
    ("unknown site", lambda c: post_hit(c, {**GOOD, "site": "nosuchsite"}), 404, "unknown_site"),
    ("pixel missing url", lambda c: c.get("/api/v1/hit.gif?site=travinh", headers={"User-Agent": CHROME}), 400,
     "bad_request"),
    ("pixel unknown site", lambda c: c.get("/api/v1/hit.gif?site=zzz&url=https://travinh.gov.vn/",
                                           headers={"User-Agent": CHROME}), 404, "unknown_site"),
    ("hit wrong method", lambda c: c.get("/api/v1/hit"), 405, "method_not_allowed"),
    ("counters wrong method", lambda c: c.post("/api/v1/sites/travinh/counters"), 405, "method_not_allowed"),
    ("counters unknown site", lambda c: c.get("/api/v1/sites/nosuch/counters"), 404, "unknown_site"),
    ("counters bad site id", lambda c: c.get("/api/v1/sites/Bad_Id/counters"), 404, "unknown_site"),
    ("no such route", lambda c: c.get("/api/v2/nothing"), 404, "not_found"),
]

ADMIN_CASES = [
    ("no token", lambda c: c.put("/api/v1/sites/x1", json={"domains": ["a.vn"]}), 401, "unauthorized"),
    ("wrong token", lambda c: c.put("/api/v1/sites/x1", json={"domains": ["a.vn"]},
                                    headers={"Authorization": "Bearer nope"}), 401, "unauthorized"),
    ("basic scheme", lambda c: c.get("/api/v1/sites/travinh",
                                     headers={"Authorization": f"Basic {b64encode(ADMIN_TOKEN.encode()).decode()}"}), 401,
     "unauthorized"),
    ("token in query", lambda c: c.get(f"/api/v1/sites/travinh?token={ADMIN_TOKEN}"), 401, "unauthorized"),
    ("put not json", lambda c: c.put("/api/v1/sites/x1", data="domains=a", headers=ADMIN), 400, "bad_request"),
    ("put no domains", lambda c: c.put("/api/v1/sites/x1", json={"domains": []}, headers=ADMIN), 400,
     "bad_request"),
    ("put domain not host", lambda c: c.put("/api/v1/sites/x1", json={"domains": ["http://a.vn/"]},
                                            headers=ADMIN), 400, "bad_request"),
    ("put domain number", lambda c: c.put("/api/v1/sites/x1", json={"domains": [5]}, headers=ADMIN), 400,
     "bad_request"),
    ("put bad timezone", lambda c: c.put("/api/v1/sites/x1", json={"domains": ["a.vn"], "timezone": "Mars/Base"},
                                         headers=ADMIN), 400, "bad_request"),
    ("put timezone path", lambda c: c.put("/api/v1/sites/x1", json={"domains": ["a.vn"],
                                                                    "timezone": "../../etc/passwd"},
                                          headers=ADMIN), 400, "bad_request"),
    ("put unknown field", lambda c: c.put("/api/v1/sites/x1", json={"domains": ["a.vn"], "color": 1},
                                          headers=ADMIN), 400, "bad_request"),
    ("put bad site id", lambda c: c.put("/api/v1/sites/-x", json={"domains": ["a.vn"]}, headers=ADMIN), 400,
     "bad_request"),
    ("baseline negative", lambda c: c.put("/api/v1/sites/travinh/baseline", json={"visits": -1},
                                          headers=ADMIN), 400, "bad_request"),
    ("baseline float", lambda c: c.put("/api/v1/sites/travinh/baseline", json={"visits": 1.5}, headers=ADMIN),
     400, "bad_request"),
    ("baseline bool", lambda c: c.put("/api/v1/sites/travinh/baseline", json={"visits": True}, headers=ADMIN),
     400, "bad_request"),
    ("baseline huge", lambda c: c.put("/api/v1/sites/travinh/baseline", json={"visits": 10**30},
                                      headers=ADMIN), 400, "bad_request"),
    ("baseline string", lambda c: c.put("/api/v1/sites/travinh/baseline", json={"visits": "12"},
                                        headers=ADMIN), 400, "bad_request"),
    ("baseline unknown site", lambda c: c.put("/api/v1/sites/nosite/baseline", json={"visits": 1},
                                              headers=ADMIN), 404, "unknown_site"),
    ("history days zero", lambda c: c.get("/api/v1/sites/travinh/history?days=0", headers=ADMIN), 400,
     "bad_request"),
    ("history days text", lambda c: c.get("/api/v1/sites/travinh/history?days=abc", headers=ADMIN), 400,
     "bad_request"),
    ("history days huge", lambda c: c.get("/api/v1/sites/travinh/history?days=99999999", headers=ADMIN), 400,
     "bad_request"),
    ("delete unknown", lambda c: c.delete("/api/v1/sites/nosite", headers=ADMIN), 404, "unknown_site"),
    ("delete bad purge", lambda c: c.delete("/api/v1/sites/travinh?purge=maybe", headers=ADMIN), 400,
     "bad_request"),
]


def snapshot(redis_client) -> dict:
    """Every key with its value, to prove a request changed nothing (but the failed-credential counter,
    which a wrong token is meant to move: tests/test_access.py holds it)."""
    result = {}
    for key in redis_client.keys("*"):
        if key.startswith(b"va:authfail:"):
            continue
        kind = redis_client.type(key)
        if kind == b"hash":
            result[key] = redis_client.hgetall(key)
        elif kind == b"string":
            result[key] = redis_client.get(key)
        else:
            result[key] = kind
    return result


@pytest.mark.parametrize(("name", "send", "status", "code"), HIT_CASES + ADMIN_CASES,
                         ids=[c[0] for c in HIT_CASES + ADMIN_CASES])
def test_bad_input_answers_4xx_json_and_changes_nothing(client, redis_client, name, send, status, code):
    """Each bad request gets its status and error code, in the JSON envelope, and no key changes."""
    add_site(client)
    before = snapshot(redis_client)
    response = send(client)
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert snapshot(redis_client) == before


def test_admin_disabled_without_token(app_config):
    """With no ADMIN_TOKEN configured, admin calls answer 403 whatever they carry."""
    from service import create_app

    client = create_app({**app_config, "ADMIN_TOKEN": ""}).test_client()
    response = client.put("/api/v1/sites/x", json={"domains": ["a.vn"]}, headers={"Authorization": "Bearer "})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "admin_disabled"


def test_chunked_body_over_limit_is_refused(client, redis_client):
    """A body sent chunked, without Content-Length, is held to the same 4 KiB limit."""
    add_site(client)
    before = snapshot(redis_client)
    body = json.dumps({**GOOD, "referrer": "x" * 10000}).encode()
    response = client.post("/api/v1/hit", input_stream=__import__("io").BytesIO(body),
                           headers={"User-Agent": CHROME, "Content-Type": "text/plain",
                                    "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})  # as gunicorn sets it
    assert response.status_code == 413, response.data
    assert snapshot(redis_client) == before


def test_unknown_site_hits_create_no_key(client, redis_client):
    """A flood of hits for made-up sites leaves Redis empty."""
    for n in range(50):
        post_hit(client, {"site": f"made-up-{n}", "url": "https://travinh.gov.vn/"})
    assert redis_client.keys("*") == []
