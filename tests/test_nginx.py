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
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from service import create_app
from service.ops.redis_process import free_port

from .conftest import ADMIN_TOKEN, CHROME
from .servers import start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
NGINX_DIR = ROOT / "deploy" / "nginx"
IP_HITS_PER_MINUTE = 5
"""The per-address limit of the gunicorn under test: low, so a dodge would show at once."""
COUNTERS_CACHE_SECONDS = 5


def render(port: int, upstream: str, folder: Path) -> str:
    """The shipped server configuration with only its upstream address, listen port and log folder
    changed (the address is a literal one: there is nothing to re-resolve, and Debian's nginx 1.22
    has no "resolve")."""
    text = (NGINX_DIR / "visitor-analytics.conf").read_text()
    assert text.count("server app:8000 resolve;") == 1 and text.count("listen 80;") == 1
    return (text.replace("server app:8000 resolve;", f"server {upstream};")
            .replace("listen 80;", f"listen 127.0.0.1:{port};")
            .replace("/var/log/nginx/", f"{folder}/"))


def start_nginx(folder: Path, port: int, upstream: str) -> subprocess.Popen:
    """Run Debian's nginx in the foreground from ``folder``; answer once it accepts connections."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(NGINX_DIR / "visitor-analytics-proxy.conf", folder)
    (folder / "visitor-analytics.conf").write_text(render(port, upstream, folder))
    # What the official image's nginx.conf gives the conf.d files, with every path in the temp dir.
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                             "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(f"""\
user root;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} notice;
events {{ worker_connections 256; }}
http {{
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log {folder / "image-access.log"} main;
{temp}
    include visitor-analytics.conf;
}}
""")
    process = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                "-e", str(folder / "error.log"), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("nginx did not start: " + process.stderr.read().decode(errors="replace"))


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    """Stop one process we started, by its PID, and reap it."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Stack:
    """nginx on one loopback port, in front of gunicorn on another."""

    def __init__(self, nginx_port: int, app_port: int, reader, logs: Path):
        self.nginx_port, self.app_port = nginx_port, app_port
        self.logs = logs  # nginx's folder: access.log (the shipped format), image-access.log (the image's)
        self.reader = reader  # an uncached app on the same Redis: gunicorn's cache keeps answers 5 s

    def send(self, method, path, body=None, headers=None, direct=False):
        """One request through nginx (or straight to gunicorn): (status, headers, body)."""
        port = self.app_port if direct else self.nginx_port
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def add_site(self, site: str) -> None:
        status, _, body = self.send("PUT", f"/api/v1/sites/{site}", json.dumps({"domains": ["travinh.gov.vn"]}),
                                    {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"})
        assert status in (200, 201), body

    def hit(self, site: str, forwarded_for: str | None = None, direct=False) -> int:
        headers = {"User-Agent": CHROME, "Content-Type": "text/plain"}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        body = json.dumps({"site": site, "url": "https://travinh.gov.vn/tin-tuc/abc"})
        return self.send("POST", "/api/v1/hit", body, headers, direct=direct)[0]

    def counters(self, site: str, pageviews: int) -> dict:
        """The site's counters once ``pageviews`` landed, read again after a few flush intervals."""
        read = lambda: self.reader.get(f"/api/v1/sites/{site}/counters").get_json()  # noqa: E731
        deadline = time.monotonic() + 10
        while read()["total"]["pageviews"] < pageviews and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a hit that should not have counted would land within a few 20 ms flushes
        return read()


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
        nginx = start_nginx(folder / "nginx", nginx_port, f"127.0.0.1:{app_port}")
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
    """nginx refuses /metrics (Prometheus scrapes the app on the compose network); gunicorn serves it."""
    assert stack.send("GET", "/metrics")[0] == 403
    assert stack.send("GET", "/metrics", direct=True)[0] == 200


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


def test_portal_snippets_use_the_shipped_proxy_rules(client):
    """The demo page's nginx snippet has every rule of visitor-analytics-proxy.conf, and the one in
    docs/deployment.md includes that file; neither appends the client's own X-Forwarded-For."""
    import html
    import re

    rules = directives((NGINX_DIR / "visitor-analytics-proxy.conf").read_text())
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in rules
    page = html.unescape(client.get("/").get_data(as_text=True))
    snippet = re.search(r"# In the portal's nginx.*?\n\}", page, re.S).group()
    assert rules <= directives(snippet), rules - directives(snippet)
    deployment = (ROOT / "docs" / "deployment.md").read_text()
    assert "include visitor-analytics-proxy.conf;" in deployment
    for text in (page, deployment, (NGINX_DIR / "visitor-analytics.conf").read_text()):
        assert "$proxy_add_x_forwarded_for" not in text
