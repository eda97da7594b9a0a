"""Property-based fuzzing of every endpoint: never a 5xx, always the JSON error envelope, no stray writes.

Each test keeps one registered site ("travinh", with counted hits) and sends thousands of generated
requests. After every answer it checks: no 5xx; a 4xx is the ``{"error": {"code", "message"}}`` JSON;
Redis was not written unless the request legitimately counts or changes something (Redis's own
``rdb_changes_since_last_save`` counter proves it); and a counted hit adds exactly one pageview.
"""

from __future__ import annotations

import io
import json
import re
from urllib.parse import parse_qsl, quote, urlencode

import pytest
import schemathesis
from prometheus_client import REGISTRY
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from service.storage import keys

from .conftest import ADMIN_TOKEN, CHROME
from .helpers import ADMIN, add_site, counters, hit

SITE = "travinh"
NO_WRITE_REASONS = {"bot", "no_user_agent", "user_agent_too_long", "prefetch", "foreign_domain"}
"""Not-counted reasons decided before the store: such a hit must not touch Redis at all."""
INJECTED = "X-Injected"
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])
SENT = {"requests": 0}


@pytest.fixture(scope="module", autouse=True)
def report_request_count():
    """Print how many generated requests this module sent (visible with -s)."""
    yield
    print(f"\ntest_fuzz: {SENT['requests']} generated requests sent")


@pytest.fixture
def app(app_config):
    """The test app, with the failed-credential limit out of the way: hundreds of generated wrong tokens
    come from one address here (tests/test_access.py holds the limit itself)."""
    from service import create_app

    return create_app({**app_config, "AUTH_FAILURES_PER_MINUTE": 10_000})


class Watch:
    """Check one answer at a time against the invariants, with the Redis write counter as witness."""

    def __init__(self, client, redis_client):
        self.client = client
        self.redis = redis_client
        self.dirty = 0
        self.pageviews = None

    def _dirty(self) -> int:
        """Redis's writes so far, less the failed-credential counter's (two a failure: INCR, EXPIRE),
        which a wrong token is meant to write (service/access.py slows guessing with it)."""
        failures = sum(s.value for m in REGISTRY.collect() if m.name == "va_auth_failures"
                       for s in m.samples if s.name == "va_auth_failures_total")
        return self.redis.info("persistence")["rdb_changes_since_last_save"] - 2 * int(failures)

    def start(self, pageviews: bool = False) -> None:
        """Note Redis's write counter (and the site's pageviews) before the next request."""
        # Taken afresh for every example: one that failed half-way must not blame the next.
        self.dirty = self._dirty()
        if pageviews and self.pageviews is None:
            self.pageviews = counters(self.client, SITE)["total"]["pageviews"]

    def check(self, response, may_write: bool = False, method: str = "GET", page: bool = False) -> None:
        """Assert no 5xx, the error envelope on 4xx (or, for a dashboard ``page``, an HTML page), no
        injected header, and no write unless allowed."""
        SENT["requests"] += 1
        status = response.status_code
        assert status < 500, f"{status}: {response.get_data()[:300]!r}"
        if status >= 400 and method != "HEAD" and page and response.mimetype == "text/html":
            # The dashboard's own refusals are pages; routing's (no such path, a bad asset) the envelope.
            assert response.get_data().startswith(b"<!doctype html>"), response.get_data()[:300]
        elif status >= 400 and method != "HEAD":
            assert response.mimetype == "application/json", response.get_data()[:300]
            body = json.loads(response.get_data())
            assert set(body) >= {"error"} and isinstance(body["error"], dict), body
            assert isinstance(body["error"].get("code"), str) and body["error"]["code"], body
            assert isinstance(body["error"].get("message"), str) and body["error"]["message"], body
        assert INJECTED not in response.headers
        for name, value in response.headers.items():
            assert "\r" not in value and "\n" not in value, (name, value)
        if not may_write or (status >= 400 and status != 429):
            writes = self._dirty() - self.dirty
            assert writes == 0, f"{status} answer changed Redis ({writes} writes)"

    def check_hit(self, response, kind) -> None:
        """Check a hit's answer; a counted one adds exactly one pageview (a ping none)."""
        before, self.pageviews = self.pageviews, None  # known again only if this check completes
        reason = response.headers.get("X-Not-Counted")
        counted = response.status_code in (200, 204) and reason is None
        event(f"hit answered {response.status_code} {reason or ('counted' if counted else '')}".strip())
        # A flood answer (429) is no invalid request: the address's hit was counted towards its limit.
        flooded = response.status_code == 429
        # A hit not counted for a reason is tallied in the site's day (the dashboard's "not counted and why").
        self.check(response, may_write=counted or flooded or reason is not None)
        if counted:
            now = counters(self.client, SITE)["total"]["pageviews"]
            assert now - before == (0 if kind == "ping" else 1), (kind, before, now)
            before = now
        self.pageviews = before


@pytest.fixture
def watch(client, redis_client, monkeypatch):
    """A registered site with one counted hit, a Watch, and at the end: no key of a site that
    was never registered (a site deleted without purge rightly keeps its numbers)."""
    store = client.application.extensions["store"]
    ever_registered = {SITE}
    register = store.put_site

    def put_site(site):
        ever_registered.add(site.id)
        return register(site)

    monkeypatch.setattr(store, "put_site", put_site)  # only notes the id; the real write runs
    add_site(client)
    assert hit(client).status_code == 204
    yield Watch(client, redis_client)
    registered = {member.decode() for member in redis_client.smembers(keys.SITES)} | ever_registered
    tags = {match.group(1).decode(errors="replace") for key in redis_client.scan_iter()
            if (match := re.match(rb"va:\{([^}]*)\}:", key))}
    tags -= {"_sites"}  # the sites list's index and catalogue (a tag no site id can have)
    tags = {tag for tag in tags if not tag.startswith("g:")}  # a group's keys: made only for a site's group
    assert tags <= registered, f"keys created for sites never registered: {sorted(tags - registered)}"


# --- building blocks --------------------------------------------------------------------------

ODD_STRINGS = [
    "", " ", "\x00", "\t", "\x7f", "\x1b[31m", f"a\r\n{INJECTED}: 1", f"\n{INJECTED}: 1", "%0d%0aX-Injected:%201",
    "%00", "%ff", "%", "\ufeff", "\u202e", "\u200b", "\udcff", "\ud800", "☃", "𝕏", "ǅ", "İ", "ß", "a" * 5000,
    "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "${jndi:ldap://x/a}", "NaN", "null",
    "true", "0", "-1", "1e309", "9" * 5000, "²", "٣", "１", "Tất cả", "lượt truy cập",
]
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80), st.sampled_from([2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0.0, -0.0, 1e308, 5e-324]),
)
JSON_VALUES = st.recursive(JSON_SCALARS | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3),
                           max_leaves=8)
TEXT = st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=40),
                 st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "So"]),
                         max_size=20))
LATIN1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)
"""Characters a WSGI header value can carry."""

# Half of the generated values are plausible, so that requests get past parsing to the filters
# and the store; the other half are hostile.
SITE_IDS = st.one_of(
    st.just(SITE), st.just(SITE), st.just(SITE),
    st.sampled_from(["nosite", "a", "0", "-x", "x-", "TRAVINH", "Travinh", "trav inh", "travinh ", " travinh",
                     "travinh\n", "travinh\x00", "trà", "xn--tr-ila", "a" * 63, "a" * 64, "a/b", "..", "{travinh}",
                     "travinh}:cfg", "*", "va:sites"]),
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True),
    TEXT,
)
PLAUSIBLE_HOSTS = st.sampled_from([
    "travinh.gov.vn", "www.travinh.gov.vn", "TRAVINH.GOV.VN", "travinh.gov.vn.", "travinh.gov.vn:8443", "evil.vn",
    "travinh.gov.vn.evil.vn", "eviltravinh.gov.vn", "trà-vinh.vn", "ТРАВИНЬ.рф", "例え.テスト", "127.0.0.1",
    "[::1]:80", "localhost"])
HOSTS = st.one_of(
    PLAUSIBLE_HOSTS,
    st.sampled_from([
        "tin-tuc.travinh.gov.vn", "xn--tr-ila.vn", "xn--", "xn--zz", "0x7f.1", "[::1]",
        "[::ffff:1.2.3.4]", "[fe80::1%25eth0]", "[v1.x]", "[", "]", "[::1", "localhost", "a..b", "-a.vn", "a-.vn",
        "a" * 64 + ".vn", ("a" * 63 + ".") * 5 + "vn", "travinh.gov.vn:99999", "travinh.gov.vn:0",
        "travinh.gov.vn:-1", "travinh.gov.vn:abc", "travinh.gov.vn:", "user:pass@travinh.gov.vn",
        "evil.vn@travinh.gov.vn", "travinh.gov.vn\\@evil.vn", "travinh.gov.vn%00", "travinh.gov.vn\u200b",
        "%74ravinh.gov.vn", "travinh.gov.vn\u3002", "travinh\uff0egov\uff0evn", "ｔｒａｖｉｎｈ.gov.vn", "",
        "travinh.gov.vn\udcff",
    ]),
    TEXT,
)
SCHEMES = st.sampled_from(["https", "http"]) | st.sampled_from(["HTTPS", "hTtP", "ftp", "javascript", "data",
                                                                "file", "ws", ""])
PATHS = st.one_of(st.sampled_from(["", "/", "/tin-tuc/abc", "/%ff%fe", "/%00", "/?a=1#x", "/ü", "/\r\nX: 1",
                                   "/" + "a" * 2100, "/\x00", "/ /", "\\..\\"]),
                  TEXT.map(lambda t: "/" + t))
URLS = st.one_of(
    st.builds(lambda scheme, host, path: f"{scheme}://{host}{path}", SCHEMES, HOSTS, PATHS),
    st.builds(lambda scheme, host, path: f"{scheme}://{host}{path}", SCHEMES, HOSTS, PATHS),
    st.sampled_from(["//travinh.gov.vn/", "/tin-tuc", "https:travinh.gov.vn", " https://travinh.gov.vn/",
                     "https://travinh.gov.vn/\x7f", "https://travinh.gov.vn/\t", "https:///travinh.gov.vn",
                     "https://travinh.gov.vn/" + "a" * 2025, "https://travinh.gov.vn/" + "a" * 2026,
                     f"https://travinh.gov.vn/\r\n{INJECTED}: 1"]),
    TEXT, JSON_VALUES,
)
KINDS = st.one_of(st.sampled_from(["pageview", "ping", None]),
                  st.sampled_from(["PING", "ping ", "click", "", "pageview\x00"]), TEXT, JSON_VALUES)
USER_AGENTS = st.one_of(st.just(CHROME), st.just(CHROME), st.sampled_from([
    "", " ", "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
    "curl/8.5.0", "Mozilla/5.0 " + "x" * 5000, "Mozilla/5.0 (é; ü)", f"{CHROME}\t",
]), LATIN1)
CONTENT_TYPES = st.one_of(*[st.sampled_from(["text/plain", "application/json"])] * 3, st.sampled_from([
    "text/plain;charset=UTF-8", "application/json; charset=utf-16", "", "application/x-www-form-urlencoded",
    "APPLICATION/JSON", "multipart/form-data; boundary=x", "application/xml", "text/html",
    "text/plain;;;", "*/*", "application/json; charset=\"\u00e9\"", "text/plain; q=\x01",
]), LATIN1)
PLAUSIBLE_URLS = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}{path}", st.sampled_from(["https", "http"]),
    PLAUSIBLE_HOSTS | HOSTS,
    st.sampled_from(["/", "/tin-tuc/abc", "/?q=đường", "/%E1%BA%A5"]) | st.text(max_size=20).map(lambda t: "/" + t))
PLAUSIBLE_HITS = st.fixed_dictionaries(
    {"site": st.sampled_from([SITE] * 8 + ["nosite", "TRAVINH"]), "url": PLAUSIBLE_URLS},
    optional={"referrer": st.sampled_from(["https://www.google.com/", "", None]) | TEXT,
              "type": st.sampled_from(["pageview", "ping", None, "click"])},
)
"""Hits that mostly parse, so that the filters, the domain match and the store get fuzzed too."""
HOSTILE_HITS = st.fixed_dictionaries(
    {"site": SITE_IDS | JSON_VALUES, "url": URLS},
    optional={"referrer": URLS, "type": KINDS, "extra": JSON_VALUES, "site\x00": st.just(SITE)},
)
HIT_BODIES = PLAUSIBLE_HITS | HOSTILE_HITS


def encode(body: object, how: str) -> bytes:
    """Serialize a generated hit body in one of many ways, most of them wrong."""
    if how == "ascii json":
        return json.dumps(body).encode()
    text = json.dumps(body, ensure_ascii=False)
    return {
        "utf-8 json": lambda: text.encode("utf-8", "surrogatepass"),
        "utf-8 bom": lambda: b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass"),
        "utf-16": lambda: text.encode("utf-16", "surrogatepass"),
        "utf-32": lambda: text.encode("utf-32", "surrogatepass"),
        "latin-1": lambda: text.encode("latin-1", "replace"),
        "cesu surrogates": lambda: text.encode("utf-8", "surrogatepass").replace(b"\xc3", b"\xed\xa0\x80"),
        "truncated": lambda: text.encode("utf-8", "surrogatepass")[: max(1, len(text) // 2)],
        "padded past 4 KiB": lambda: (text + " " * 4100).encode("utf-8", "surrogatepass"),
        "form encoded": lambda: urlencode({k.encode("utf-8", "surrogatepass"): str(v).encode("utf-8", "surrogatepass")
                                           for k, v in body.items()}).encode(),
        "python repr": lambda: repr(body).encode("utf-8", "surrogatepass"),
    }[how]()


ENCODINGS = ["ascii json"] * 10 + ["utf-8 json"] * 5 + [
    "utf-8 bom", "utf-16", "utf-32", "latin-1", "cesu surrogates", "truncated", "padded past 4 KiB", "form encoded",
    "python repr"]
RAW_BODIES = st.one_of(
    st.binary(max_size=300),
    st.integers(1, 5000).map(lambda n: "[" * n),
    st.integers(1, 3000).map(lambda n: '{"a":' * n),
    st.sampled_from(["", "null", "[]", "{}", '""', "1" * 5000, "1e999999", "-0", "NaN", "Infinity", '{"site":}',
                     '{"site": "travinh", "site": 1}', '{"site": "travinh", "url": "https://travinh.gov.vn/"}garbage',
                     '\x00{"site": "travinh"}', '{"site": "travinh", "url": "https://travinh.gov.vn/", "a": ' +
                     '"\\ud800"}', "\ufeff{}"]),
    TEXT,
).map(lambda raw: raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"))


def post_hit(client, data: bytes, content_type: str, headers: dict, chunked: bool = False):
    """POST a hit body as given; ``chunked`` sends it with no Content-Length, as a chunked upload."""
    if chunked:
        return client.post("/api/v1/hit", input_stream=io.BytesIO(data), content_type=content_type, headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})
    return client.post("/api/v1/hit", data=data, content_type=content_type, headers=headers)


HIT_HEADERS = st.fixed_dictionaries({"User-Agent": USER_AGENTS}, optional={
    "Sec-Purpose": st.sampled_from(["prefetch", "prefetch;prerender", "x"]) | LATIN1,
    "Purpose": st.sampled_from(["prefetch", "preview"]) | LATIN1,
    "X-Forwarded-For": st.sampled_from(["1.2.3.4", "1.2.3.4, 5.6.7.8", "::1", "garbage", "", "1.2.3.4" * 500]) | LATIN1,
    "X-Request-Id": LATIN1,
    "Origin": LATIN1,
    "Referer": LATIN1,
})


# --- the fuzz tests ---------------------------------------------------------------------------

@settings(FUZZ, max_examples=800)
@given(body=HIT_BODIES, how=st.sampled_from(ENCODINGS), content_type=CONTENT_TYPES, headers=HIT_HEADERS,
       chunked=st.booleans())
def test_fuzzed_hit_bodies(watch, client, body, how, content_type, headers, chunked):
    """Generated hit bodies, encodings, content types and headers never crash or write for nothing."""
    watch.start(pageviews=True)
    response = post_hit(client, encode(body, how), content_type, headers, chunked)
    watch.check_hit(response, body.get("type"))


@settings(FUZZ, max_examples=400)
@given(raw=RAW_BODIES, content_type=CONTENT_TYPES, agent=USER_AGENTS)
def test_fuzzed_raw_hit_bodies(watch, client, raw, content_type, agent):
    """Arbitrary bytes, deep nesting and huge numbers as a hit body get a 4xx (or a 204), never a 5xx."""
    watch.start(pageviews=True)
    response = post_hit(client, raw, content_type, {"User-Agent": agent})
    watch.check_hit(response, None)


PIXEL_PARAMS = st.fixed_dictionaries({"site": st.just(SITE), "url": PLAUSIBLE_URLS}, optional={
    "ref": URLS.map(str), "type": st.sampled_from(["pageview", "ping"]),
}) | st.fixed_dictionaries({}, optional={
    "site": SITE_IDS, "url": URLS.map(str), "ref": URLS.map(str), "type": KINDS.map(str), "extra": TEXT,
})
RAW_QUERIES = st.one_of(
    st.sampled_from(["site=travinh&url=%zz", "site=trav%ffinh&url=https%3A%2F%2Ftravinh.gov.vn%2F",
                     "site=travinh&url=https://travinh.gov.vn/%0d%0aX-Injected:%201", "site=travinh&site=x&url=",
                     "site=travinh&url=https%3A%2F%2Ftravinh.gov.vn%2F&url=javascript:1", "%", "&&&", "=",
                     "site[]=travinh&url[]=x", "site=travinh;url=https://travinh.gov.vn/", "a" * 10000]),
    TEXT.map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="=&%")),
)


@settings(FUZZ, max_examples=400)
@given(params=PIXEL_PARAMS, raw=st.none() | RAW_QUERIES, agent=USER_AGENTS)
def test_fuzzed_pixel_queries(watch, client, params, raw, agent):
    """Generated <noscript> pixel queries answer a GIF or a JSON 4xx, and write only when counted."""
    watch.start(pageviews=True)
    query = raw if raw is not None else urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in params.items()})
    response = client.get(f"/api/v1/hit.gif?{query}", headers={"User-Agent": agent})
    if response.status_code == 200:
        assert response.mimetype == "image/gif" and response.headers["Cache-Control"] == "no-store"
    kind = params.get("type") if raw is None else dict(parse_qsl(raw, keep_blank_values=True)[::-1]).get("type")
    watch.check_hit(response, kind)


@settings(FUZZ, max_examples=250)
@given(site=SITE_IDS | st.sampled_from(["%2e%2e", "%2F", "travinh%00", "travinh%20", "..%2Fadmin"]),
       etag=st.none() | LATIN1, quoted=st.booleans())
def test_fuzzed_counters_reads(watch, client, site, etag, quoted):
    """Any site segment reads the counters (200/304) or answers 404, and never writes to Redis."""
    watch.start()
    segment = site
    if quoted or any(c in "/?#" or ord(c) < 32 or c == "\x7f" or 0xD800 <= ord(c) < 0xE000 for c in site):
        segment = quote(site.encode("utf-8", "surrogatepass"), safe="")
    headers = {} if etag is None else {"If-None-Match": etag}
    response = client.get(f"/api/v1/sites/{segment}/counters", headers=headers)
    assert response.status_code in (200, 304, 404), response.get_data()[:300]
    watch.check(response)


ADMIN_AUTH = st.one_of(
    st.sampled_from([
        (ADMIN, True), (ADMIN, True), ({"Authorization": f"bearer {ADMIN_TOKEN}"}, True),
        ({"Authorization": f"Bearer  {ADMIN_TOKEN} "}, True),
        ({}, False), ({"Authorization": ""}, False), ({"Authorization": "Bearer"}, False),
        ({"Authorization": "Bearer "}, False), ({"Authorization": f"Basic {ADMIN_TOKEN}"}, False),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, False), ({"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}, False),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}\x00"}, False), ({"Authorization": f"Bearer\t{ADMIN_TOKEN}"}, False),
        ({"Authorization": "Bearer é"}, False), ({"Authorization": f"{ADMIN_TOKEN}"}, False),
    ]),
    LATIN1.map(lambda t: ({"Authorization": t}, None)),
)
"""(headers, whether they carry the right token; None: generated, not known in advance)."""
ADMIN_BODIES = st.one_of(
    st.fixed_dictionaries({}, optional={
        "domains": st.lists(HOSTS | JSON_SCALARS | st.sampled_from(["*.travinh.gov.vn", "*.", "*.vn", "*", "**.a.vn"]),
                            max_size=4) | JSON_VALUES,
        "timezone": st.sampled_from(["Asia/Ho_Chi_Minh", "UTC", "Etc/GMT+12", "Mars/Base", "../../etc/passwd",
                                     "/etc/localtime", "Asia/../Asia/Ho_Chi_Minh", "asia/ho_chi_minh", "posixrules",
                                     "\x00", "Asia/Ho_Chi_Minh\x00", "a" * 65]) | TEXT | JSON_SCALARS,
        "visits": JSON_SCALARS | TEXT, "pageviews": JSON_SCALARS, "visitors": JSON_SCALARS,
        "source": TEXT | JSON_SCALARS, "extra": JSON_VALUES,
    }),
    JSON_VALUES,
).map(lambda body: json.dumps(body).encode()) | RAW_BODIES
ADMIN_CALLS = st.sampled_from([
    ("PUT", "/api/v1/sites/{}"), ("GET", "/api/v1/sites/{}"), ("DELETE", "/api/v1/sites/{}"),
    ("PUT", "/api/v1/sites/{}/baseline"), ("GET", "/api/v1/sites/{}/baseline"), ("GET", "/api/v1/sites/{}/history"),
    ("GET", "/api/v1/sites"), ("PUT", "/api/v1/sites"),
])
ADMIN_QUERIES = st.fixed_dictionaries({}, optional={
    "days": st.sampled_from(["1", "30", "3660", "3661", "0", "-1", "+5", " 5", "5 ", "0x10", "1_000", "1e3", "٣",
                             "²", "１", "9" * 30, "9" * 5000, "", "3.5"]) | TEXT,
    "purge": st.sampled_from(["true", "false", "1", "0", "TRUE", "yes", "", "true\x00"]) | TEXT,
    "limit": st.sampled_from(["1", "500", "501", "0", "-1", "１", "9" * 30]) | TEXT,
    "sort": st.sampled_from(["site", "-today", "-total", "-online", "today", ""]) | TEXT,
    "cursor": st.sampled_from(["", "WyJzaXRlIiwiYSJd", "WyItdG9kYXkiLDEsImEiXQ", "=", "W10"]) | TEXT,
    "q": TEXT, "group": st.sampled_from(["huyen", "Bad_Group", ""]) | TEXT,
})


@settings(FUZZ, max_examples=500)
@given(call=ADMIN_CALLS, site=SITE_IDS, body=ADMIN_BODIES, auth=ADMIN_AUTH, query=ADMIN_QUERIES,
       content_type=st.sampled_from(["application/json", "text/plain", ""]) | LATIN1)
def test_fuzzed_admin_calls(watch, client, call, site, body, auth, query, content_type):
    """Generated admin calls answer 2xx or a JSON 4xx; a wrong token is 401; only accepted PUT/DELETE calls write."""
    watch.start()
    method, path = call
    auth, authorized = auth
    segment = quote(site.encode("utf-8", "surrogatepass"), safe="")
    url = path.format(segment) + "?" + urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in query.items()})
    response = client.open(url, method=method, data=body if method == "PUT" else None, content_type=content_type,
                           headers=auth)
    # An unknown path ("//" from an empty site id) is 404 before any token check.
    routed = not (response.status_code == 404 and response.get_json()["error"]["code"] == "not_found")
    if routed and authorized is False:
        assert response.status_code == 401, (auth, response.status_code)
    elif routed and authorized:
        assert response.status_code != 401, auth
    watch.check(response, may_write=method in ("PUT", "DELETE"))


ROUTES = ["/api/v1/hit", "/api/v1/hit.gif", "/api/v1/sites/travinh/counters", "/api/v1/sites",
          "/api/v1/sites/travinh", "/api/v1/sites/travinh/baseline", "/api/v1/sites/travinh/history", "/healthz",
          "/readyz", "/metrics", "/beacon.js", "/widget.js", "/", "/openapi.json", "/static/../service/__init__.py",
          "/api/v1/hit/", "/API/V1/HIT", "//api/v1/hit", "/api/v1/sites/travinh/counters/", "/api/v1/./hit"]


def fuzzed_path(text: str) -> str:
    """A request path made of any text. A second leading slash is escaped: Werkzeug's test client
    reads ``//x/...`` as a host name (and fails on one it cannot encode, before the app sees it);
    ROUTES has ``//api/v1/hit`` for that case."""
    quoted = quote(text.encode("utf-8", "surrogatepass"), safe="/")
    return "/" + ("%2F" + quoted[1:] if quoted.startswith("/") else quoted)


@settings(FUZZ, max_examples=400)
@given(method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND",
                               "CONNECT", "BREW"]),
       path=st.sampled_from(ROUTES) | TEXT.map(fuzzed_path),
       query=st.none() | TEXT, auth=st.sampled_from([{}, ADMIN]), body=st.none() | RAW_BODIES)
def test_fuzzed_methods_and_paths(watch, client, method, path, query, auth, body):
    """Any method on any path answers without a 5xx, with the JSON envelope on 404/405, and a 405 says Allow."""
    watch.start()
    url = path if query is None else f"{path}?{quote(query.encode('utf-8', 'surrogatepass'), safe='=&')}"
    headers = {"User-Agent": CHROME, **auth}
    response = client.open(url, method=method, data=body, headers=headers, content_type="text/plain")
    if response.status_code == 405:
        assert response.headers.get("Allow"), url
    writes = method in ("POST", "PUT", "DELETE") or path == "/api/v1/hit.gif" and method in ("GET", "HEAD")
    watch.check(response, may_write=writes, method=method)


# --- schemathesis: generated from /openapi.json itself -----------------------------------------

@pytest.fixture
def api_cases(app, watch):
    """Hypothesis strategies of schema-valid and schema-violating cases for every documented operation."""
    # A body over 4 KiB is refused with 413, which schemathesis does not count as a rejection by default.
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {
        "expected-statuses": [400, 401, 403, 404, 405, 413, 415]}}})
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    return {mode: schema.as_strategy(generation_mode=mode) for mode in GenerationMode}


class SchemathesisAnswer:
    """A schemathesis response seen through the few attributes Watch reads."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.headers = {k: ", ".join(v) for k, v in response.headers.items()}
        self.mimetype = self.headers.get("content-type", "").split(";")[0].strip()
        self._content = response.content

    def get_data(self):
        return self._content


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_schemathesis_cases_conform(watch, api_cases, mode, data):
    """Cases generated from the OpenAPI document get documented answers, and schema-invalid ones a 4xx."""
    watch.start()
    case = data.draw(api_cases[mode])
    # Schema-valid data may still be refused (an unknown time zone, a domain that is no host name):
    # the document cannot say everything the validators check, so that one check is left out.
    # In negative mode, "invalid" may only mean an unknown query parameter (ignored, as HTTP APIs
    # do) or a dropped Authorization header that ADMIN puts back: the request is then valid and
    # rightly answered 2xx. Watch still checks such answers: no 5xx, no write for a refused one.
    excluded = [positive_data_acceptance]
    if mode is GenerationMode.NEGATIVE:
        excluded.append(negative_data_rejection)
    response = case.call_and_validate(headers=ADMIN, excluded_checks=excluded)
    answer = SchemathesisAnswer(response)
    writes = case.method.upper() in ("POST", "PUT", "DELETE") or case.path == "/api/v1/hit.gif"
    watch.check(answer, may_write=writes, method=case.method.upper(), page=case.path.startswith("/dashboard"))


# --- reproductions of crashes the fuzzing found -----------------------------------------------

FOUND = [
    ("hit body nested 4000 deep", lambda c: post_hit(c, b"[" * 4000, "text/plain", {"User-Agent": CHROME}), 400),
    ("admin body nested 60000 deep",
     lambda c: c.put("/api/v1/sites/x1", data=b"[" * 60000, content_type="application/json", headers=ADMIN), 400),
    ("baseline body nested 60000 deep",
     lambda c: c.put("/api/v1/sites/travinh/baseline", data=b"[" * 60000, content_type="application/json",
                     headers=ADMIN), 400),
    ("history days superscript two", lambda c: c.get("/api/v1/sites/travinh/history?days=²", headers=ADMIN), 400),
    ("history days 5000 digits",
     lambda c: c.get("/api/v1/sites/travinh/history?days=" + "9" * 5000, headers=ADMIN), 400),
]


@pytest.mark.parametrize(("name", "send", "status"), FOUND, ids=[f[0] for f in FOUND])
def test_inputs_found_by_fuzzing_answer_4xx(watch, client, name, send, status):
    """Each input that once crashed the service now answers its JSON 4xx and changes nothing."""
    watch.start()
    response = send(client)
    assert response.status_code == status, response.get_data()[:200]
    watch.check(response)


# --- every route, with arguments that URL building reads itself -------------------------------

PATH_VALUES = {
    "site_id": ["travinh", "nosite", "%ff%fe", "a" * 300, "%2e%2e"],
    "share_id": ["0123456789ab", "%00"],
    "secret": ["nothing", "travinh.0123456789ab.x", "%ff%fe"],
    "filename": ["dashboard.css", "..%2f..%2fservice%2f__init__.py", "%ff"],
    "token_id": ["0123456789abcdef", "%00", "a" * 300],
    "session_id": ["nosession", "%ff%fe", "a" * 300],
    "group_id": ["travinh", "nogroup", "%ff%fe", "a" * 300],
}
"""Values for each path variable of the app's routes: a valid one first, then odd ones."""
ODD_ARGUMENTS = [
    "endpoint=x", "_method=DELETE", "_external=1&_anchor=%22%3E%3Cb%3E", "_scheme=javascript&_external=1",
    "site_id=nosite&secret=x&filename=x&share_id=x&values=1", "lang=en&endpoint=dashboard.home&_method=POST",
    "days=" + "9" * 5000, "lang=" + "x" * 5000 + "&sort=" + "y" * 5000, "days=7&days=30&sort=today&sort=x&dir=desc",
    "%ff%fe=%ff&lang=%ff&period=%c0%af&path=%ff", "bye=1&expired=1&lang=vi&_external=1&_anchor=a&_scheme=http",
    "lang=en&period=7d&days=90&sort=week&dir=asc&_external=1",
    "q=%ff&page=" + "9" * 5000 + "&sort=-today&cursor=%ff&limit=%00&group=%ff",
]
"""Query strings naming url_for's own arguments, huge values, repeated keys and non-UTF-8 bytes."""
FORGED_HOST = "evil.example"


def route_urls(app) -> list[tuple[str, str, str]]:
    """(method, path, endpoint) for every route of the app, each path variable filled in turn with each
    of its values (the others valid)."""
    from itertools import product

    found = []
    for rule in app.url_map.iter_rules():
        names = sorted(rule.arguments)
        for values in product(*[PATH_VALUES[name] for name in names]):
            if sum(value != PATH_VALUES[name][0] for name, value in zip(names, values)) > 1:
                continue  # one odd value at a time
            path = rule.rule
            for name, value in zip(names, values):
                path = re.sub(rf"<(?:\w+:)?{name}>", value, path)
            for method in sorted(rule.methods - {"OPTIONS"}):
                found.append((method, path, rule.endpoint))
    return sorted(found, key=lambda url: url[2] == "dashboard.signout")  # signing out last


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed in"])
def test_every_route_ignores_url_building_arguments(client, app, signed_in):
    """No route answers a 5xx to query arguments that url_for reads itself (endpoint, _method,
    _external, _anchor, _scheme), huge or repeated ones, or non-UTF-8 bytes, and no dashboard page
    links to a forged Host."""
    add_site(client)
    assert hit(client).status_code == 204
    if signed_in:
        form = client.get("/dashboard/signin").get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        assert client.post("/dashboard/signin", data={"csrf": csrf, "token": ADMIN_TOKEN}).status_code == 303
        session = client.get_cookie("va_session", path="/dashboard")
        client.set_cookie("va_session", session.value, domain=FORGED_HOST, path="/dashboard")  # sent to that Host too
        assert client.get("/dashboard", headers={"Host": FORGED_HOST}).status_code == 200
    urls = route_urls(app)
    assert len({endpoint for _, _, endpoint in urls}) == len({r.endpoint for r in app.url_map.iter_rules()})
    for method, path, endpoint in urls:
        for query in ODD_ARGUMENTS:
            response = client.open(f"{path}?{query}", method=method, headers={"Host": FORGED_HOST}, data=b"",
                                   content_type="text/plain")
            SENT["requests"] += 1
            assert response.status_code < 500, (method, path, query, response.get_data()[:300])
            if endpoint.startswith("dashboard.") and response.mimetype == "text/html":
                assert FORGED_HOST not in response.get_data(as_text=True), (method, path, query)
            for value in response.headers.values():
                assert FORGED_HOST not in value, (method, path, query, value)
