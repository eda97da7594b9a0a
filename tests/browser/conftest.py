"""Fixtures for real-browser tests: the service and a portal on two origins, and Chromium.

The service listens on 127.0.0.1 and the portal on localhost, each on its own free port, so
every beacon and widget request is cross-origin, as on a real portal.
"""

from __future__ import annotations

import io
import sys
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from service import create_app

from ..conftest import ADMIN_TOKEN



CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# The server drops "HeadlessChrome" as a crawler: browse as a desktop Chrome does.
DESKTOP_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
AXE = Path(sys.prefix) / "npm" / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core, from the npm package `make test` installs into the venv; a missing file fails the tests, never skips them."""

ONLINE_WINDOW_SECONDS = 4
"""Short online window of the test service, so presence tests take seconds."""


PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Cổng thông tin</title>{head}</head>
<body><h1>Cổng thông tin điện tử</h1>{body}</body></html>"""


def beacon_tag(service, site: str = "portal", **data) -> str:
    """The portal's beacon tag; ``data`` becomes data-* attributes (ping_seconds=1 …)."""
    attrs = "".join(f' data-{k.replace("_", "-")}="{v}"' for k, v in data.items())
    return f'<script defer src="{service.url}beacon.js" data-site="{site}"{attrs}></script>'


class OneRequestPerConnection(WSGIRequestHandler):
    """Close every connection after its answer, so a stopped server really is unreachable."""

    protocol_version = "HTTP/1.0"

    def log_request(self, *args, **kwargs):  # keep the test output quiet
        pass


class LiveServer:
    """A WSGI app served from a thread on a fixed loopback port; can stop and start again."""

    def __init__(self, app, host: str = "127.0.0.1", public_host: str | None = None):
        self.app, self.host, self.public_host = app, host, public_host or host
        self.port = 0
        self._server = None

    def start(self) -> LiveServer:
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=OneRequestPerConnection)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.public_host}:{self.port}/"


class HitLog:
    """WSGI middleware that remembers every hit the service answered, with its outcome."""

    def __init__(self, app):
        self.app, self.hits, self._lock = app, [], threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/api/v1/hit" or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        request = Request(environ)
        body = request.get_data(cache=True)  # the app reads it again from the cache
        environ["wsgi.input"] = io.BytesIO(body)

        def recording_start_response(status, headers, *rest):
            try:
                hit = json.loads(body)
            except ValueError:
                hit = None
            if not isinstance(hit, dict):
                hit = {"raw": body}
            hit["status"] = int(status.split()[0])
            hit["not_counted"] = dict(headers).get("X-Not-Counted")
            with self._lock:
                self.hits.append(hit)
            return start_response(status, headers, *rest)

        return self.app(environ, recording_start_response)

    def of(self, kind: str, url_part: str = "") -> list[dict]:
        """The hits of one type ("pageview" or "ping") whose URL contains ``url_part``."""
        with self._lock:
            return [h for h in self.hits if not is_marker(h)
                    and h.get("type", "pageview") == kind and url_part in h.get("url", "")]


class Service(LiveServer):
    """The visitor-analytics app under test, with its hit log and a counters reader."""

    def __init__(self, app):
        self.log = HitLog(app.wsgi_app)
        app.wsgi_app = self.log
        self.client = app.test_client()
        super().__init__(app)

    def add_site(self, site: str, domains=("localhost", "127.0.0.1")) -> None:
        response = self.client.put(f"/api/v1/sites/{site}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                   json={"domains": list(domains), "timezone": "Asia/Ho_Chi_Minh"})
        assert response.status_code in (200, 201), response.get_json()

    def counters(self, site: str = "portal") -> dict:
        """Read the counters from the app directly (works while the server is stopped)."""
        response = self.client.get(f"/api/v1/sites/{site}/counters")
        assert response.status_code == 200, response.get_json()
        return response.get_json()


class Portal(LiveServer):
    """A portal on another origin: pages registered by path; a path ending in "/" also
    answers for everything below it (a single-page app's routes)."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        super().__init__(self._wsgi, host="127.0.0.1", public_host="localhost")

    def add(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.url.rstrip("/") + path

    def add_page(self, path: str, head: str = "", body: str = "") -> str:
        """Add a small Vietnamese portal page; return its URL."""
        return self.add(path, PAGE.format(head=head, body=body or "<p>Tin tức</p>"))

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        path = request.path
        if path == "/favicon.ico":
            return Response(status=204)
        for prefix in sorted(self.pages, key=len, reverse=True):
            if path == prefix or prefix.endswith("/") and path.startswith(prefix):
                return Response(self.pages[prefix], mimetype="text/html")
        return Response("not found", status=404)


def closed_port() -> int:
    """A loopback port nothing listens on (just freed by the OS)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float = 10.0, interval: float = 0.1, message: str = "", page=None):
    """Poll ``check()`` until it returns something truthy, or fail after ``timeout`` seconds.

    Pass ``page`` when ``check`` reads what Playwright event handlers record: the sync API
    runs them only while it is called, so the wait then goes through the page.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message or check}")
        if page is None:
            time.sleep(interval)
        else:
            page.wait_for_timeout(interval * 1000)


MARKER_HOST = "settle.invalid"
"""Host of the marker hits settle() sends: on no site's domain list, so never counted."""


def is_marker(hit: dict) -> bool:
    return f"//{MARKER_HOST}/" in hit.get("url", "")


def settle(page, service) -> None:
    """Wait until every hit the page has sent so far has been answered by the service.

    Beacons leave asynchronously. A marker beacon sent now is reported after them (the
    browser reports a page's requests in order); once it is seen, the service log must
    catch up with what the page sent. The marker is a ping for a foreign domain: answered
    204 and not counted.
    """
    url = f"http://{MARKER_HOST}/{len(page.hits_sent)}"
    page.evaluate("([api, url]) => navigator.sendBeacon(api, JSON.stringify({site: 'portal', type: 'ping', url}))",
                  [service.url + "api/v1/hit", url])
    wait_for(lambda: any(h.get("url") == url for h in page.hits_sent), 5, message="marker sent", page=page)
    wait_for(lambda: any(h.get("url") == url for h in service.log.hits), 5, message="marker answered")
    real = lambda hits: [h for h in hits if not is_marker(h)]  # noqa: E731
    wait_for(lambda: len(real(service.log.hits)) >= len(real(page.hits_sent)), 5,
             message="every hit the page sent answered", page=page)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    with sync_playwright() as playwright:
        # Playwright turns the back/forward cache off; the beacon's bfcache rule needs it on.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              ignore_default_args=["--disable-back-forward-cache"])
        yield chromium
        chromium.close()


@pytest.fixture
def service_config(redis_url, tmp_path) -> dict:
    """Settings of the service under test; tests may change them before asking for ``service``.

    Hits are written before the answer (FLUSH_INTERVAL_MS 0), so the API shows them at once;
    batching is proven by the gunicorn, fault and mode tests.
    """
    return {"REDIS_URL": redis_url, "ADMIN_TOKEN": ADMIN_TOKEN,
            "ONLINE_WINDOW_SECONDS": ONLINE_WINDOW_SECONDS,
            "COUNTERS_CACHE_SECONDS": 0, "SITE_CACHE_SECONDS": 0,
            "FLUSH_INTERVAL_MS": 0, "JOURNAL_DIR": str(tmp_path / "journal")}


@pytest.fixture
def service(service_config):
    """The service, live on 127.0.0.1, with the site "portal" registered for the portal's hosts."""
    live = Service(create_app(service_config)).start()
    live.add_site("portal")
    yield live
    live.stop()


@pytest.fixture
def portal():
    """An empty portal on http://localhost:<port>/; tests add pages to it."""
    live = Portal().start()
    yield live
    live.stop()


@pytest.fixture
def context(browser):
    """A fresh browser profile that browses with a desktop Chrome User-Agent."""
    ctx = browser.new_context(user_agent=DESKTOP_CHROME, viewport={"width": 1100, "height": 800})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    """A tab that records the hits it sends (``page.hits_sent``), its console errors and
    uncaught exceptions (``page.problems``); an uncaught exception fails the test."""
    tab = context.new_page()
    tab.problems, tab.hits_sent = [], []

    def on_request(request):
        if request.method == "POST" and request.url.endswith("/api/v1/hit"):
            tab.hits_sent.append(json.loads(request.post_data or "{}"))

    tab.on("request", on_request)
    tab.on("console", lambda msg: msg.type == "error" and tab.problems.append(
        f"console: {msg.text} ({msg.location.get('url')})"))
    tab.on("pageerror", lambda exc: tab.problems.append(f"exception: {exc}"))
    yield tab
    uncaught = [p for p in tab.problems if p.startswith("exception")]
    assert not uncaught, uncaught


@pytest.fixture
def axe_context(browser):
    """A profile that may inject axe (the dashboard's CSP, rightly, refuses injected scripts), 1280 wide."""
    assert AXE.is_file(), f"{AXE} missing: run `make test`"
    context = browser.new_context(user_agent=DESKTOP_CHROME, bypass_csp=True, viewport={"width": 1280, "height": 900})
    yield context
    context.close()
