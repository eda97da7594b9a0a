"""The service sees https and the reader's address behind the shipped nginx, in both TLS modes.

(a) TLS on the shipped nginx itself: a self-signed certificate made here, requests over https.
(b) An outer TLS proxy in front of the shipped nginx: nginx trusts 127.0.0.1 (the "outer proxy")
    and nobody else; a client bound to 127.0.0.2 (Linux routes all of 127/8 to lo) forges the same
    headers and must be ignored.
Real nginx, real gunicorn (TRUSTED_PROXIES=1, as compose runs it) and real Redis. /metrics is also
tried through every shipped nginx file, the portal's snippet under /thong-ke/ included.
"""

from __future__ import annotations

import json
import re
import signal
import urllib.parse

import pytest

from service import create_app
from service.ops.redis_process import free_port

from .conftest import ADMIN_TOKEN
from .nginx_server import (NOBODY, Stack, self_signed_certificate, start_nginx, stop, write_portal,
                           write_shipped)
from .servers import start_gunicorn

HOST = "stats.example"
"""The public name readers use (the certificate's name)."""
OUTER_PROXY = "127.0.0.1"
UNTRUSTED = "127.0.0.2"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HSTS = "max-age=31536000"


@pytest.fixture(scope="module")
def stacks(redis_servers, tmp_path_factory):
    """One gunicorn behind three nginx: TLS on nginx, nginx behind a trusted outer proxy, a portal's."""
    redis_server = redis_servers("redis")
    folder = tmp_path_factory.mktemp("nginx-tls")
    app_port = free_port()
    gunicorn = start_gunicorn(redis_server.url, folder / "app", app_port, TRUSTED_PROXIES="1", FLUSH_INTERVAL_MS="20",
                              COUNTERS_CACHE_SECONDS="0")
    upstream = f"127.0.0.1:{app_port}"
    reader = create_app({"REDIS_URL": redis_server.url, "COUNTERS_CACHE_SECONDS": 0, "SITE_CACHE_SECONDS": 0,
                         "JOURNAL_DIR": str(folder / "reader-journal")}).test_client()
    started, found = [], {}
    try:
        tls_dir = folder / "tls-mode"
        ca = self_signed_certificate(tls_dir / "tls", HOST)
        http_port, https_port = free_port(), free_port()
        included = write_shipped(tls_dir, upstream, http_port, https_port, trusted_proxy=NOBODY, redirect_to_https="1")
        started.append(start_nginx(tls_dir, included, [http_port, https_port]))
        found["tls"] = Stack(http_port, app_port, reader, tls_dir, tls_port=https_port, ca=ca, host=HOST)

        proxied_dir = folder / "proxied-mode"
        proxied_dir.mkdir()
        port = free_port()
        started.append(start_nginx(proxied_dir, write_shipped(proxied_dir, upstream, port, trusted_proxy=OUTER_PROXY),
                                   [port]))
        found["proxied"] = Stack(port, app_port, reader, proxied_dir, host=HOST)

        portal_dir = folder / "portal"
        portal_dir.mkdir()
        port = free_port()
        started.append(start_nginx(portal_dir, write_portal(portal_dir, upstream, port), [port]))
        found["portal"] = Stack(port, app_port, reader, portal_dir, host=HOST)
        yield found
    finally:
        for nginx in started:
            stop(nginx, signal.SIGQUIT)
        stop(gunicorn)


def share_url(stack: Stack, site: str, **options) -> str:
    """Create a share link for ``site`` with the operator's token; answer its URL."""
    headers = {**ADMIN, "Content-Type": "application/json", **options.pop("headers", {})}
    status, _, body = stack.send("POST", f"/api/v1/sites/{site}/shares", json.dumps({"label": "tls"}), headers,
                                 **options)
    assert status == 201, body
    return json.loads(body)["url"]


def session_cookie(stack: Stack, **options) -> str:
    """Sign in to the dashboard with the operator's token; answer the session's Set-Cookie line."""
    headers = options.pop("headers", {})
    status, answer, body = stack.send("GET", "/dashboard/signin", headers=headers, **options)
    assert status == 200, body
    presession = next(c for c in answer.get_all("Set-Cookie") if c.startswith("va_signin="))
    csrf = re.search(r'name="csrf" value="([^"]+)"', body.decode()).group(1)
    form = urllib.parse.urlencode({"csrf": csrf, "token": ADMIN_TOKEN})
    status, answer, body = stack.send("POST", "/dashboard/signin", form,
                                      {**headers, "Content-Type": "application/x-www-form-urlencoded",
                                       "Cookie": presession.split(";", 1)[0]}, **options)
    assert status == 303, body
    return next(c for c in answer.get_all("Set-Cookie") if c.startswith("va_session="))


def attributes(cookie: str) -> set[str]:
    return {part.strip().split("=", 1)[0].lower() for part in cookie.split(";")[1:]}


def test_tls_on_nginx_gives_https_links_secure_cookies_and_hsts(stacks):
    """Over https to the shipped nginx, share links are https, the session cookie is Secure and HSTS is sent."""
    stack = stacks["tls"]
    stack.add_site("tls-own", tls=True)
    assert share_url(stack, "tls-own", tls=True).startswith(f"https://{HOST}/dashboard/share/")
    assert "secure" in attributes(session_cookie(stack, tls=True))
    for path in ("/healthz", "/beacon.js", "/api/v1/sites/tls-own/counters"):
        assert stack.send("GET", path, tls=True)[1]["Strict-Transport-Security"] == HSTS, path


def test_tls_on_nginx_sends_plain_http_to_https(stacks):
    """With TLS on nginx, a plain http request is redirected (308, method kept) to the same https URL."""
    status, headers, _ = stacks["tls"].send("POST", "/api/v1/hit?x=1", b"{}")
    assert status == 308 and headers["Location"] == f"https://{HOST}/api/v1/hit?x=1"


def test_tls_on_nginx_counts_each_reader_by_their_own_address(stacks):
    """Over https, readers at two addresses are two visitors, and a forged X-Forwarded-For changes nothing."""
    stack = stacks["tls"]
    stack.add_site("tls-readers", tls=True)
    assert stack.hit("tls-readers", tls=True) == 204
    assert stack.hit("tls-readers", tls=True, source=UNTRUSTED) == 204
    assert stack.hit("tls-readers", forwarded_for="203.0.113.9", tls=True, source=UNTRUSTED) == 204
    numbers = stack.counters("tls-readers", 3)["today"]
    assert numbers["pageviews"] == 3 and numbers["visitors"] == 2, numbers


OUTER_HTTPS = {"X-Forwarded-Proto": "https"}


def test_trusted_outer_proxy_gives_https_links_secure_cookies_and_hsts(stacks):
    """Through the trusted outer proxy's https (X-Forwarded-Proto), share links are https, the session
    cookie is Secure and HSTS is sent."""
    stack = stacks["proxied"]
    stack.add_site("outer-https")
    headers = {**OUTER_HTTPS, "X-Forwarded-For": "203.0.113.20"}
    assert share_url(stack, "outer-https", headers=headers).startswith(f"https://{HOST}/dashboard/share/")
    assert "secure" in attributes(session_cookie(stack, headers=headers))
    for path in ("/healthz", "/widget.js"):
        assert stack.send("GET", path, headers=headers)[1]["Strict-Transport-Security"] == HSTS, path


def test_forged_proxy_headers_from_an_untrusted_address_are_ignored(stacks):
    """The same headers from 127.0.0.2 (not the trusted proxy) leave the service on http: http share
    links, no Secure cookie, no HSTS."""
    stack = stacks["proxied"]
    stack.add_site("outer-forged")
    headers = {**OUTER_HTTPS, "X-Forwarded-For": "203.0.113.21"}
    assert share_url(stack, "outer-forged", headers=headers, source=UNTRUSTED).startswith(f"http://{HOST}/")
    assert "secure" not in attributes(session_cookie(stack, headers=headers, source=UNTRUSTED))
    assert "Strict-Transport-Security" not in stack.send("GET", "/healthz", headers=headers, source=UNTRUSTED)[1]


def test_trusted_outer_proxy_names_the_readers_and_nobody_else_does(stacks):
    """Two readers named by the trusted proxy are two visitors; two addresses forged from 127.0.0.2 are
    one visitor (127.0.0.2 itself)."""
    stack = stacks["proxied"]
    stack.add_site("outer-readers")
    for address in ("203.0.113.30", "203.0.113.31"):
        assert stack.hit("outer-readers", forwarded_for=address, headers=OUTER_HTTPS) == 204
    for address in ("203.0.113.32", "203.0.113.33"):
        assert stack.hit("outer-readers", forwarded_for=address, headers=OUTER_HTTPS, source=UNTRUSTED) == 204
    numbers = stack.counters("outer-readers", 4)["today"]
    assert numbers["pageviews"] == 4 and numbers["visitors"] == 3, numbers


METRICS_PATHS = ["/metrics", "/metrics?x=1", "//metrics", "/%6detrics", "/x/../metrics", "/./metrics"]
"""/metrics, and the spellings nginx normalises to it."""


@pytest.mark.parametrize(("mode", "prefix", "options"), [
    ("tls", "", {"tls": True, "source": UNTRUSTED}),
    ("proxied", "", {"source": UNTRUSTED}),
    ("proxied", "", {"headers": {"X-Forwarded-For": "203.0.113.40"}}),  # a reader sent by the outer proxy
    ("portal", "/thong-ke", {}),
    ("portal", "/thong-ke", {"source": UNTRUSTED}),
], ids=["tls", "proxied-direct", "proxied-reader", "portal-loopback", "portal"])
def test_metrics_are_refused_on_every_path_of_every_shipped_nginx(stacks, mode, prefix, options):
    """Each shipped nginx file refuses /metrics (however spelled, under the portal's prefix too) to
    anyone but its host's loopback; the same nginx does serve the service's other paths."""
    stack = stacks[mode]
    for path in METRICS_PATHS:
        status, _, body = stack.send("GET", prefix + path, **options)
        assert status in (403, 404) and b"va_" not in body, (path, status)
        assert status == 403 or path.startswith("/x/"), (path, status)
    assert stack.send("GET", prefix + "/healthz", **options)[0] == 200


def test_metrics_are_served_to_the_shipped_nginx_host_itself(stacks):
    """The control: from the nginx host's loopback (no proxy in between), the shipped nginx serves /metrics."""
    status, _, body = stacks["proxied"].send("GET", "/metrics")
    assert status == 200 and b"va_" in body
