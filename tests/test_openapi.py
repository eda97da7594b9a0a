"""The OpenAPI document is valid, covers exactly the routes the app serves, and real answers match it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from service import create_app
from service.ops.redis_process import free_port

from .conftest import CHROME
from .helpers import ADMIN, add_site, hit

SPEC_PATH = Path(__file__).parent.parent / "service" / "openapi.json"
SPEC = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
SPEC_URI = "urn:visitor-analytics:openapi"
REGISTRY = Registry().with_resource(SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012))
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
UNDOCUMENTED_RULES = {"/static/<path:filename>", "/bench/floor"}
"""Flask's built-in static route (unused by the API) and the benchmark-only floor route."""


def template(path: str) -> str:
    """A path with every parameter name erased, so Flask's <site_id> and OpenAPI's {site} compare equal."""
    return re.sub(r"<(?:[^<>:]+:)?[^<>]+>|\{[^{}]+\}", "{}", path)


def pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def resolve(node: dict) -> tuple[dict, str | None]:
    """Follow a local $ref of the document; answer the target and its JSON pointer."""
    target = node.get("$ref")
    if target is None:
        return node, None
    found = SPEC
    for token in target.removeprefix("#/").split("/"):
        found = found[token.replace("~1", "/").replace("~0", "~")]
    return found, target.removeprefix("#")


def validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=REGISTRY,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_matches_document(response, path: str, method: str) -> None:
    """Check status, content type, body schema and headers of a real answer against the document."""
    operation = SPEC["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {path} answered undocumented {status}"
    documented, pointer = resolve(operation["responses"][status])
    pointer = pointer or "/".join(["/paths", pointer_escape(path), method, "responses", status])
    content = documented.get("content", {})
    if content:
        assert response.mimetype in content, f"{response.mimetype} not documented for {status}"
        if response.mimetype == "application/json":
            schema_pointer = f"{pointer}/content/{pointer_escape(response.mimetype)}/schema"
            errors = [e.message for e in validator(schema_pointer).iter_errors(response.get_json())]
            assert not errors, errors
    else:
        assert response.data == b"", f"{status} has no documented body"
    for name, header in documented.get("headers", {}).items():
        header, header_pointer = resolve(header)
        value = response.headers.get(name)
        if value is None:
            assert not header.get("required"), f"required header {name} missing"
            continue
        header_pointer = header_pointer or f"{pointer}/headers/{pointer_escape(name)}"
        errors = [e.message for e in validator(f"{header_pointer}/schema").iter_errors(value)]
        assert not errors, (name, value, errors)


def test_document_is_valid_openapi_31():
    """The shipped document passes the OpenAPI 3.1 validator."""
    assert SPEC["openapi"].startswith("3.1")
    validate_openapi(SPEC)


def test_served_document_is_the_shipped_file(client):
    """GET /openapi.json answers the document as JSON, readable from any origin."""
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.get_json() == SPEC


def test_every_route_is_documented_and_every_documented_route_exists(app):
    """The document's (path, method) pairs are exactly the app's routes, HEAD/OPTIONS aside."""
    served = set()
    allowed = {}
    for rule in app.url_map.iter_rules():
        if rule.rule in UNDOCUMENTED_RULES:
            continue
        allowed.setdefault(template(rule.rule), set()).update(rule.methods)
        served |= {(template(rule.rule), m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(template(path), method.upper()) for path, item in SPEC["paths"].items()
                  for method in item if method in HTTP_METHODS}
    assert served == {d for d in documented if d[1] != "OPTIONS"}
    for path, method in documented:
        assert method in allowed.get(path, set()), f"{method} {path} is documented but not served"


def test_admin_operations_and_only_they_require_the_bearer_token():
    """Every admin operation (sites, tokens, sessions) declares bearer security with its 401, 403 and 429
    answers; public ones declare none."""
    scheme = SPEC["components"]["securitySchemes"]["adminToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            is_admin = (path.startswith(("/api/v1/sites", "/api/v1/tokens", "/api/v1/sessions", "/api/v1/groups"))
                        and not path.endswith(("/counters", "/pages", "/top")))
            assert (operation.get("security") == [{"adminToken": []}]) == is_admin, (method, path)
            if is_admin:
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)


def test_every_documented_error_answer_is_the_error_envelope():
    """Each 4xx/5xx documented with a body is the {"error": {"code", "message"}} shape; the
    dashboard's pages (HTML for people) answer theirs as HTML pages."""
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                body, _ = resolve(response)
                if path.startswith("/dashboard") and "text/html" in body["content"]:
                    assert set(body["content"]) == {"text/html"}, (method, path, status)
                    continue
                schema = json.dumps(body["content"]["application/json"]["schema"])
                assert "#/components/schemas/Error" in schema or "#/components/schemas/Unready" in schema, \
                    (method, path, status)


def test_hit_body_limits_are_documented():
    """The documented hit body carries the site id pattern, the 2048-char URL, the type enum and the 4 KiB cap."""
    schemas = SPEC["components"]["schemas"]
    assert schemas["SiteId"]["pattern"] == "^[a-z0-9][a-z0-9-]{0,62}$"
    assert schemas["PageUrl"]["maxLength"] == 2048
    assert set(schemas["HitType"]["enum"]) >= {"pageview", "ping"}
    assert "4096 bytes" in schemas["Hit"]["description"]
    assert "413" in SPEC["paths"]["/api/v1/hit"]["post"]["responses"]


def conditional_counters(client):
    etag = client.get("/api/v1/sites/travinh/counters").headers["ETag"]
    return client.get("/api/v1/sites/travinh/counters", headers={"If-None-Match": etag})


def put_then_get_baseline(client):
    client.put("/api/v1/sites/travinh/baseline", json={"visits": 3844451, "source": "old counter"}, headers=ADMIN)
    return client.get("/api/v1/sites/travinh/baseline", headers=ADMIN)


HITS = "/api/v1/hit"
PIXEL = "/api/v1/hit.gif"
COUNTERS = "/api/v1/sites/{site}/counters"
SITE = "/api/v1/sites/{site}"
BASELINE = "/api/v1/sites/{site}/baseline"
HISTORY = "/api/v1/sites/{site}/history"
SHARES = "/api/v1/sites/travinh/shares"
GOOD_PIXEL = "/api/v1/hit.gif?site=travinh&url=https%3A%2F%2Ftravinh.gov.vn%2F"

ANSWERS = [
    ("counted hit", lambda c: hit(c), HITS, "post", 204),
    ("ping", lambda c: hit(c, kind="ping"), HITS, "post", 204),
    ("foreign domain", lambda c: hit(c, url="https://evil.example/"), HITS, "post", 204),
    ("bot", lambda c: hit(c, agent="Googlebot/2.1 (+http://www.google.com/bot.html)"), HITS, "post", 204),
    ("no user agent", lambda c: hit(c, agent=""), HITS, "post", 204),
    ("hit malformed", lambda c: hit(c, url="/relative"), HITS, "post", 400),
    ("hit unknown site", lambda c: hit(c, site="nosuchsite"), HITS, "post", 404),
    ("hit too large", lambda c: hit(c, referrer="x" * 5000), HITS, "post", 413),
    ("hit as xml", lambda c: c.post(HITS, data="<hit/>", content_type="application/xml"), HITS, "post", 415),
    ("hit preflight", lambda c: c.options(HITS, headers={"Origin": "https://travinh.gov.vn",
                                                         "Access-Control-Request-Method": "POST"}),
     HITS, "options", 200),
    ("pixel", lambda c: c.get(GOOD_PIXEL, headers={"User-Agent": CHROME}), PIXEL, "get", 200),
    ("pixel foreign", lambda c: c.get(GOOD_PIXEL.replace("travinh.gov", "evil"), headers={"User-Agent": CHROME}),
     PIXEL, "get", 200),
    ("pixel no url", lambda c: c.get(f"{PIXEL}?site=travinh"), PIXEL, "get", 400),
    ("pixel unknown site", lambda c: c.get(GOOD_PIXEL.replace("=travinh", "=zzz")), PIXEL, "get", 404),
    ("counters", lambda c: c.get("/api/v1/sites/travinh/counters"), COUNTERS, "get", 200),
    ("counters not modified", conditional_counters, COUNTERS, "get", 304),
    ("counters unknown", lambda c: c.get("/api/v1/sites/nosuch/counters"), COUNTERS, "get", 404),
    ("put site new", lambda c: c.put("/api/v1/sites/new-site", json={"domains": ["a.vn"]}, headers=ADMIN),
     SITE, "put", 201),
    ("put site again", lambda c: c.put("/api/v1/sites/travinh", json={"domains": ["travinh.gov.vn"],
                                                                      "timezone": "Asia/Bangkok"}, headers=ADMIN),
     SITE, "put", 200),
    ("put site bad", lambda c: c.put("/api/v1/sites/x1", json={"domains": []}, headers=ADMIN), SITE, "put", 400),
    ("put site huge", lambda c: c.put("/api/v1/sites/x1", json={"domains": ["a.vn"] * 20000}, headers=ADMIN),
     SITE, "put", 413),
    ("get site", lambda c: c.get("/api/v1/sites/travinh", headers=ADMIN), SITE, "get", 200),
    ("get site unknown", lambda c: c.get("/api/v1/sites/nosuch", headers=ADMIN), SITE, "get", 404),
    ("get site bad id", lambda c: c.get("/api/v1/sites/-x", headers=ADMIN), SITE, "get", 400),
    ("no token", lambda c: c.get("/api/v1/sites/travinh"), SITE, "get", 401),
    ("list sites", lambda c: c.get("/api/v1/sites", headers=ADMIN), "/api/v1/sites", "get", 200),
    ("list sites sorted", lambda c: c.get("/api/v1/sites?sort=-today&limit=1&q=tra", headers=ADMIN), "/api/v1/sites",
     "get", 200),
    ("list sites bad", lambda c: c.get("/api/v1/sites?limit=0", headers=ADMIN), "/api/v1/sites", "get", 400),
    ("import sites", lambda c: c.put("/api/v1/sites", data=b"site,domains\nxa-1,a.vn\nBad,b.vn\n",
                                     content_type="text/csv", headers=ADMIN), "/api/v1/sites", "put", 200),
    ("import sites json", lambda c: c.put("/api/v1/sites", json={"sites": [{"site": "xa-2", "domains": ["a.vn"],
                                                                           "group": "huyen"}]}, headers=ADMIN),
     "/api/v1/sites", "put", 200),
    ("import sites bad", lambda c: c.put("/api/v1/sites", data=b"nope", content_type="text/csv", headers=ADMIN),
     "/api/v1/sites", "put", 400),
    ("import sites xml", lambda c: c.put("/api/v1/sites", data=b"<a/>", content_type="application/xml",
                                         headers=ADMIN), "/api/v1/sites", "put", 415),
    ("delete site", lambda c: c.delete("/api/v1/sites/travinh", headers=ADMIN), SITE, "delete", 204),
    ("delete unknown", lambda c: c.delete("/api/v1/sites/nosuch", headers=ADMIN), SITE, "delete", 404),
    ("delete bad purge", lambda c: c.delete("/api/v1/sites/travinh?purge=maybe", headers=ADMIN), SITE, "delete",
     400),
    ("put baseline", lambda c: c.put("/api/v1/sites/travinh/baseline", json={"visits": 5}, headers=ADMIN),
     BASELINE, "put", 200),
    ("put baseline bad", lambda c: c.put("/api/v1/sites/travinh/baseline", json={"visits": -1}, headers=ADMIN),
     BASELINE, "put", 400),
    ("get baseline", put_then_get_baseline, BASELINE, "get", 200),
    ("get baseline unknown", lambda c: c.get("/api/v1/sites/nosuch/baseline", headers=ADMIN), BASELINE, "get", 404),
    ("history", lambda c: c.get("/api/v1/sites/travinh/history?days=9", headers=ADMIN), HISTORY, "get", 200),
    ("history bad days", lambda c: c.get("/api/v1/sites/travinh/history?days=0", headers=ADMIN), HISTORY, "get",
     400),
    ("put group", lambda c: c.put("/api/v1/groups/travinh", json={"label": "Tỉnh Trà Vinh"}, headers=ADMIN),
     "/api/v1/groups/{group}", "put", 201),
    ("put group bad", lambda c: c.put("/api/v1/groups/travinh", json={"timezone": "x"}, headers=ADMIN),
     "/api/v1/groups/{group}", "put", 400),
    ("group counters", lambda c: c.put("/api/v1/sites/travinh", json={"domains": ["travinh.gov.vn"], "group": "tv"},
                                       headers=ADMIN) and c.get("/api/v1/groups/tv/counters"),
     "/api/v1/groups/{group}/counters", "get", 200),
    ("group counters unknown", lambda c: c.get("/api/v1/groups/nothing/counters"), "/api/v1/groups/{group}/counters",
     "get", 404),
    ("healthz", lambda c: c.get("/healthz"), "/healthz", "get", 200),
    ("readyz", lambda c: c.get("/readyz"), "/readyz", "get", 200),
    ("readyz public", lambda c: c.get("/readyz", environ_base={"REMOTE_ADDR": "203.0.113.9"}), "/readyz", "get", 200),
    ("metrics", lambda c: c.get("/metrics"), "/metrics", "get", 200),
    ("metrics public", lambda c: c.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}), "/metrics", "get",
     403),
    ("beacon.js", lambda c: c.get("/beacon.js"), "/beacon.js", "get", 200),
    ("widget.js", lambda c: c.get("/widget.js"), "/widget.js", "get", 200),
    ("demo", lambda c: c.get("/?site=travinh"), "/", "get", 200),
    ("demo bad site", lambda c: c.get("/?site=Bad_Site"), "/", "get", 400),
    ("openapi", lambda c: c.get("/openapi.json"), "/openapi.json", "get", 200),
    ("create share", lambda c: c.post(SHARES, json={"label": "editors", "expires_in_days": 7}, headers=ADMIN),
     "/api/v1/sites/{site}/shares", "post", 201),
    ("create share bad", lambda c: c.post(SHARES, json={"label": 5}, headers=ADMIN),
     "/api/v1/sites/{site}/shares", "post", 400),
    ("list shares", lambda c: c.post(SHARES, json={}, headers=ADMIN) and c.get(SHARES, headers=ADMIN),
     "/api/v1/sites/{site}/shares", "get", 200),
    ("revoke share", lambda c: c.delete(f"{SHARES}/{c.post(SHARES, json={}, headers=ADMIN).get_json()['id']}",
                                        headers=ADMIN), "/api/v1/sites/{site}/shares/{share}", "delete", 204),
    ("revoke unknown share", lambda c: c.delete(f"{SHARES}/0123456789ab", headers=ADMIN),
     "/api/v1/sites/{site}/shares/{share}", "delete", 404),
    ("dashboard signed out", lambda c: c.get("/dashboard"), "/dashboard", "get", 303),
    ("dashboard sign-in form", lambda c: c.get("/dashboard/signin"), "/dashboard/signin", "get", 200),
    ("dashboard wrong sign-in", lambda c: c.post("/dashboard/signin", data={"token": "x"}), "/dashboard/signin",
     "post", 400),
    ("dashboard bad share", lambda c: c.get("/dashboard/share/nothing"), "/dashboard/share/{secret}", "get", 404),
    ("dashboard asset", lambda c: c.get("/dashboard/static/dashboard.css"), "/dashboard/static/{file}", "get", 200),
]


@pytest.mark.parametrize(("name", "send", "path", "method", "status"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_real_answers_match_the_document(client, name, send, path, method, status):
    """Each main endpoint's real answer has a documented status, content type, body schema and headers."""
    add_site(client)
    hit(client)
    response = send(client)
    assert response.status_code == status, response.data[:300]
    assert_matches_document(response, path, method)


def test_not_counted_reasons_are_documented_values(client):
    """X-Not-Counted reasons that real hits produce are among the documented ones."""
    add_site(client)
    enum = SPEC["paths"][HITS]["post"]["responses"]["204"]["headers"]["X-Not-Counted"]["schema"]["enum"]
    sent = [hit(client, url="https://evil.example/"), hit(client, agent=""), hit(client, agent="curl/8.0"),
            hit(client, headers={"Sec-Purpose": "prefetch"})]
    assert {r.headers["X-Not-Counted"] for r in sent} <= set(enum)


def test_admin_disabled_answer_matches_the_document(app_config):
    """With no ADMIN_TOKEN, the 403 answer is the documented admin_disabled error."""
    client = create_app({**app_config, "ADMIN_TOKEN": ""}).test_client()
    response = client.get("/api/v1/sites", headers=ADMIN)
    assert response.status_code == 403
    assert_matches_document(response, "/api/v1/sites", "get")


def test_flood_answer_matches_the_document(app_config):
    """A client address over IP_HITS_PER_MINUTE gets the documented 429 with Retry-After, on both hit routes."""
    client = create_app({**app_config, "IP_HITS_PER_MINUTE": 2}).test_client()
    add_site(client)
    answers = [hit(client, agent=f"{CHROME} {n}") for n in range(3)]
    assert [a.status_code for a in answers] == [204, 204, 429]
    assert_matches_document(answers[-1], HITS, "post")
    pixel = client.get(GOOD_PIXEL, headers={"User-Agent": CHROME}, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert pixel.status_code == 429
    assert_matches_document(pixel, PIXEL, "get")


def test_redis_down_answers_match_the_document(app_config):
    """With Redis unreachable, readiness, counters and admin answers are the documented 503s;
    a hit is the documented 204 (buffered, never refused)."""
    dead = {**app_config, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REDIS_TIMEOUT_SECONDS": 0.1}
    client = create_app(dead).test_client()
    cases = [(client.get("/readyz"), "/readyz", "get", 503),
             (client.get("/readyz", environ_base={"REMOTE_ADDR": "203.0.113.9"}), "/readyz", "get", 503),
             (client.get("/api/v1/sites/travinh/counters"), COUNTERS, "get", 503),
             (client.get("/api/v1/sites", headers=ADMIN), "/api/v1/sites", "get", 503),
             (hit(client), HITS, "post", 204)]
    for response, path, method, status in cases:
        assert response.status_code == status, (path, response.data[:200])
        assert_matches_document(response, path, method)


@pytest.mark.parametrize(("send", "status", "code"), [
    (lambda c: c.get("/api/v2/nothing"), 404, "not_found"),
    (lambda c: c.delete("/healthz"), 405, "method_not_allowed"),
    (lambda c: c.get("/api/v1/hit"), 405, "method_not_allowed"),
], ids=["no such path", "wrong method", "hit by GET"])
def test_routing_errors_are_the_error_envelope(client, send, status, code):
    """404 and 405 from routing answer the documented error envelope (405 with Allow)."""
    response = send(client)
    assert response.status_code == status
    errors = [e.message for e in validator("/components/schemas/Error").iter_errors(response.get_json())]
    assert not errors and response.get_json()["error"]["code"] == code
    if status == 405:
        assert response.headers["Allow"]
