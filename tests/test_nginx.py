"""Debian's nginx with the shipped deploy/nginx configuration in front of real gunicorn and Redis.

The configuration is rendered for loopback (the upstream address and the listen port, nothing
else) and nginx runs from a temp dir. Each test sends through nginx what a hostile or broken
client would, and compares with what gunicorn alone (published directly, as compose.yaml used
to) would make of it.
"""

from __future__ import annotations

import gzip
import http.client
import json
import signal
import socket
import time

import pytest

from service import create_app
from service.ops.redis_process import free_port

from .conftest import CHROME
from .nginx_server import NGINX_DIR, ROOT, Stack, start_nginx, stop, write_shipped
from .servers import start_gunicorn

IP_HITS_PER_MINUTE = 5
"""The per-address limit of the gunicorn under test: low, so a dodge would show at once."""
COUNTERS_CACHE_SECONDS = 5


@pytest.fixture(scope="module")
def stack(redis_servers, tmp_path_factory):
    """gunicorn (the image's command, TRUSTED_PROXIES=1 as in .env.example) behind the shipped nginx."""
    redis_server = redis_servers("redis")
    folder = tmp_path_factory.mktemp("nginx")
    app_port, nginx_port = free_port(), free_port()
    gunicorn = start_gunicorn(redis_server.url, folder / "app", app_port, TRUSTED_PROXIES="1",
                              IP_HITS_PER_MINUTE=str(IP_HITS_PER_MINUTE), FLUSH_INTERVAL_MS="20",
                              COUNTERS_CACHE_SECONDS=str(COUNTERS_CACHE_SECONDS))
    try:
        (folder / "nginx").mkdir()
        included = write_shipped(folder / "nginx", f"127.0.0.1:{app_port}", nginx_port)  # no outer proxy
        nginx = start_nginx(folder / "nginx", included, [nginx_port])
    except Exception:
        stop(gunicorn)
        raise
    reader = create_app({"REDIS_URL": redis_server.url, "COUNTERS_CACHE_SECONDS": 0, "SITE_CACHE_SECONDS": 0,
                         "JOURNAL_DIR": str(folder / "reader-journal")}).test_client()
    yield Stack(nginx_port, app_port, reader, folder / "nginx")
    stop(nginx, signal.SIGQUIT)  # graceful: finish what is in flight
    stop(gunicorn)


def away_from_a_minute_boundary() -> None:
    """Per-address limits count per clock minute: start a burst early in one, so it stays in one."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


FORGED = [f"198.51.100.{n}" for n in range(1, 13)]
"""Twelve addresses a client claims for itself, one a request."""


def test_forged_forwarded_for_through_nginx_is_one_visitor_held_to_the_address_limit(stack):
    """Twelve hits claiming twelve addresses are one visitor through nginx, and the per-address
    limit (5 a minute here) still stops them: 5 counted, the rest answered 429."""
    stack.add_site("nginx-forged")
    away_from_a_minute_boundary()
    statuses = [stack.hit("nginx-forged", forwarded_for=address) for address in FORGED]
    numbers = stack.counters("nginx-forged", IP_HITS_PER_MINUTE)
    assert numbers["today"]["pageviews"] == IP_HITS_PER_MINUTE, numbers
    assert numbers["today"]["visitors"] == 1 and numbers["today"]["visits"] == 1, numbers
    # Hits are written in batches: a worker learns of the limit from its first batch over it,
    # then answers 429 itself until the minute ends.
    for address in FORGED:
        statuses.append(stack.hit("nginx-forged", forwarded_for=address))
        time.sleep(0.1)
    assert set(statuses) <= {204, 429} and 429 in statuses, statuses
    assert stack.counters("nginx-forged", IP_HITS_PER_MINUTE)["today"]["pageviews"] == IP_HITS_PER_MINUTE


def test_gunicorn_alone_believes_forged_forwarded_for(stack):
    """The control: the same twelve hits sent straight to gunicorn are twelve visitors, all counted
    (what the compose file's published gunicorn let anyone do)."""
    stack.add_site("direct-forged")
    away_from_a_minute_boundary()
    statuses = [stack.hit("direct-forged", forwarded_for=address, direct=True) for address in FORGED]
    numbers = stack.counters("direct-forged", len(FORGED))
    assert statuses == [204] * len(FORGED)
    assert numbers["today"]["pageviews"] == len(FORGED) and numbers["today"]["visitors"] == len(FORGED), numbers


def half_sent_requests(port: int, count: int) -> list[socket.socket]:
    """Open ``count`` connections that stop mid-request: half in the headers, half in the body."""
    opened = []
    for n in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if n % 2:
            sock.sendall(b"POST /api/v1/hit HTTP/1.1\r\nHost: stats.example\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: 2000\r\n\r\n{\"site\": \"nginx-slow\", \"url\": \"https://trav")
        else:
            sock.sendall(b"POST /api/v1/hit HTTP/1.1\r\nHost: stats.example\r\nUser-Ag")
        opened.append(sock)
    return opened


def closed_by_peer(sock: socket.socket) -> bytes:
    """Read until the other side closes; answer what it sent (an error page, or nothing)."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_twenty_half_sent_requests_stall_nothing_and_are_cut_off(stack):
    """While twenty clients hang mid-request, /healthz answers within 5 s and a hit is counted;
    nginx then closes the hanging connections itself (client_header_timeout/client_body_timeout)."""
    stack.add_site("nginx-slow")
    hanging = half_sent_requests(stack.nginx_port, 20)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", stack.nginx_port, timeout=5)
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
        connection.close()
        assert stack.hit("nginx-slow") == 204
        assert stack.counters("nginx-slow", 1)["today"]["pageviews"] == 1
        # The timeouts are 10 s; allow a loaded CI box well over that.
        answers = [closed_by_peer(sock) for sock in hanging]
    finally:
        for sock in hanging:
            sock.close()
    cut = [answer.split(b"\r\n", 1)[0] for answer in answers]
    assert all(line in (b"", b"HTTP/1.1 408 Request Time-out") for line in cut), cut


def test_answers_keep_their_cors_and_caching_headers(stack):
    """Counters, hits and the pixel keep gunicorn's own CORS, Cache-Control and ETag through nginx;
    a revalidation still gets its 304."""
    stack.add_site("nginx-headers")
    checked = ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Cache-Control", "X-Not-Counted")
    requests = [
        ("GET", "/api/v1/sites/nginx-headers/counters", None, {"Origin": "https://travinh.gov.vn"}),
        ("POST", "/api/v1/hit", json.dumps({"site": "nginx-headers", "url": "https://travinh.gov.vn/"}),
         {"User-Agent": "Googlebot/2.1", "Content-Type": "text/plain", "Origin": "https://travinh.gov.vn"}),
        ("GET", "/api/v1/hit.gif?site=nginx-headers&url=https%3A%2F%2Ftravinh.gov.vn%2F", None, {"User-Agent": CHROME}),
        ("OPTIONS", "/api/v1/hit", None, {"Origin": "https://travinh.gov.vn", "Access-Control-Request-Method": "POST"}),
    ]
    for method, path, body, headers in requests:
        direct = stack.send(method, path, body, headers, direct=True)
        proxied = stack.send(method, path, body, headers)
        assert proxied[0] == direct[0], (path, proxied[0], direct[0])
        assert {h: proxied[1].get(h) for h in checked} == {h: direct[1].get(h) for h in checked}, path
    status, headers, _ = stack.send("GET", "/api/v1/sites/nginx-headers/counters")
    assert headers["Cache-Control"] == f"public, max-age={COUNTERS_CACHE_SECONDS}" and headers["ETag"]
    assert headers["Access-Control-Allow-Origin"] == "*"
    revalidated = stack.send("GET", "/api/v1/sites/nginx-headers/counters", headers={"If-None-Match": headers["ETag"]})
    assert revalidated[0] == 304
    pixel = stack.send("GET", "/api/v1/hit.gif?site=nginx-headers&url=https%3A%2F%2Ftravinh.gov.vn%2F")
    assert pixel[0] == 200 and pixel[1]["Cache-Control"] == "no-store"


@pytest.mark.parametrize("name", ["beacon.js", "widget.js"])
def test_scripts_are_gzipped_and_cached_for_a_day(stack, name):
    """The two scripts every portal page loads come gzipped, cacheable for a day, CORS open, with an ETag."""
    status, headers, body = stack.send("GET", f"/{name}", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in headers["Vary"]
    assert gzip.decompress(body) == (ROOT / "service" / "static" / name).read_bytes()
    assert headers["Cache-Control"] == "public, max-age=86400, stale-while-revalidate=86400"
    assert headers["Access-Control-Allow-Origin"] == "*" and headers["ETag"]
    assert headers["Content-Type"].startswith("text/javascript")


def test_metrics_are_not_served_to_the_internet(stack):
    """nginx refuses /metrics to any address but its host's loopback (Prometheus scrapes the app on
    the compose network); gunicorn serves it."""
    assert stack.send("GET", "/metrics", source="127.0.0.2")[0] == 403
    assert stack.send("GET", "/metrics")[0] == 200
    assert stack.send("GET", "/metrics", direct=True, source="127.0.0.2")[0] == 200


def test_nginx_logs_no_address_agent_or_share_secret(stack):
    """The shipped server's access log keeps what ops need (method, path, status, timing) and
    nothing of the reader: no address (forged or real), no User-Agent, no Referer, no share-link
    secret; the image's own format, which has them all, is not used for this server."""
    secret = "demo.0123456789ab.s3cr3tS3cr3tS3cr3tS3cr3tS3cr3t"
    stack.add_site("travinh")
    assert stack.hit("travinh", forwarded_for="198.51.100.77") == 204
    # nginx logs this refusal at "error" level with "client: <address>" (here left out, below crit)
    assert stack.send("POST", "/api/v1/hit", b"x" * (300 * 1024 * 1024 // 256), {"Content-Type": "text/plain"})[0] == 413
    stack.send("GET", f"/dashboard/share/{secret}", headers={"User-Agent": CHROME, "Referer": "https://a.vn/x"})
    stack.send("GET", "/api/v1/hit.gif?site=travinh&url=https%3A%2F%2Ftravinh.gov.vn%2F%3Ftoken%3Dabc")
    deadline = time.monotonic() + 5
    while (stack.logs / "access.log").read_text().count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = (stack.logs / "access.log").read_text()
    assert 'POST "/api/v1/hit" 204' in logged and '"/dashboard/share/***"' in logged
    for private in ("127.0.0.1", "198.51.100.77", "Mozilla", "a.vn", secret, "s3cr3t", "token"):
        assert private not in logged, private
    assert not (stack.logs / "image-access.log").exists() or (stack.logs / "image-access.log").read_text() == ""
    assert "client: " not in (stack.logs / "error.log").read_text()


def directives(text: str) -> set[str]:
    """The directive lines of an nginx text, comments and blank lines left out."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return {line for line in lines if line.endswith(";")}


def without_locations(text: str) -> str:
    """An nginx text without its (unnested) location blocks."""
    import re

    return re.sub(r"^\s*location [^{]*\{[^}]*\}", "", text, flags=re.M)


def test_portal_snippets_use_the_shipped_proxy_rules(client):
    """The demo page's nginx snippet has every proxy rule of visitor-analytics-proxy.conf, and the one
    in docs/deployment.md includes that file; none appends the client's own X-Forwarded-For."""
    import html
    import re

    rules = directives(without_locations((NGINX_DIR / "visitor-analytics-proxy.conf").read_text()))
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in rules
    page = html.unescape(client.get("/").get_data(as_text=True))
    snippet = re.search(r"# In the portal's nginx.*?\n\}", page, re.S).group()
    assert rules <= directives(snippet), rules - directives(snippet)
    deployment = (ROOT / "docs" / "deployment.md").read_text()
    assert "include visitor-analytics-proxy.conf;" in deployment
    shipped = ["\n".join(directives(path.read_text())) for path in NGINX_DIR.glob("*.conf")]
    for text in (page, deployment, *shipped):
        assert "$proxy_add_x_forwarded_for" not in text


def test_demo_page_snippet_blocks_metrics(client):
    """The demo page's portal snippet refuses /metrics under its prefix, as visitor-analytics-proxy.conf does."""
    import html

    page = html.unescape(client.get("/").get_data(as_text=True))
    assert "location ~ /metrics$" in page


def test_shipped_server_passes_requests_by_the_portal_rules():
    """The shipped nginx's server rules are visitor-analytics-proxy.conf's, but for the scheme (the
    trusted proxy's word), the reader's Host, and /metrics served to loopback only."""
    site = directives(without_locations((NGINX_DIR / "visitor-analytics-site.conf").read_text()))
    portal = directives(without_locations((NGINX_DIR / "visitor-analytics-proxy.conf").read_text()))
    assert portal - site == {"proxy_set_header X-Forwarded-Proto $scheme;"}
    assert {"proxy_set_header X-Forwarded-Proto $va_forwarded_proto;", "proxy_set_header Host $http_host;"} <= site
