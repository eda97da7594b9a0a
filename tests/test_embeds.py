"""The embeddable scripts and the demo page, over HTTP: budgets, headers, snippets."""

from __future__ import annotations

import gzip
import html
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[1] / "service" / "static"


@pytest.mark.parametrize(("name", "budget_bytes"), [("beacon.js", 1024), ("widget.js", 4096)])
def test_script_fits_its_gzipped_size_budget(name, budget_bytes):
    """Each script, as served, stays within its budget once gzipped (level 9, like gzip -9)."""
    source = (STATIC / name).read_bytes()
    assert len(gzip.compress(source, compresslevel=9)) <= budget_bytes


@pytest.mark.parametrize("name", ["beacon.js", "widget.js"])
def test_script_is_served_as_cacheable_cross_origin_javascript(client, name):
    """Scripts are JavaScript any origin may load, cached for an hour, revalidated by ETag."""
    response = client.get(f"/{name}")
    assert response.status_code == 200
    assert response.data == (STATIC / name).read_bytes()
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert set(response.headers["Cache-Control"].split(", ")) == {"public", "max-age=3600"}

    again = client.get(f"/{name}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def code_blocks(page: str) -> list[str]:
    """The text of every <pre><code> block, as a reader copies it."""
    return [html.unescape(block) for block in re.findall(r"<pre[^>]*><code>(.*?)</code></pre>", page, re.S)]


def test_demo_page_snippets_carry_the_service_address(client):
    """The copy-paste snippets point at the address the page was opened with."""
    response = client.get("/", base_url="https://stats.example.vn")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    blocks = code_blocks(response.get_data(as_text=True))

    assert '<script defer src="https://stats.example.vn/beacon.js" data-site="demo"></script>' in blocks
    assert ('<div data-visitor-stats data-site="demo"></div>\n'
            '<script defer src="https://stats.example.vn/widget.js"></script>') in blocks
    pixel = next(b for b in blocks if "<noscript>" in b)
    assert 'src="https://stats.example.vn/api/v1/hit.gif?site=demo&url=https%3A//stats.example.vn/"' in pixel
    nginx = next(b for b in blocks if "location /thong-ke/ {" in b)
    assert "proxy_pass https://stats.example.vn/;" in nginx
    # The address nginx saw, never appended to one the client sent (tests/test_nginx.py has every rule).
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "TRUSTED_PROXIES=1" in nginx
    assert any('<span data-visitor-views data-site="demo"></span>' in b for b in blocks)
    assert any('<ol data-visitor-top data-site="demo" data-period="week" data-limit="10"></ol>' in b for b in blocks)
    assert any('data-rows="online,today,yesterday,week,month,total"' in b for b in blocks)
    proxied = next(b for b in blocks if 'src="/thong-ke/beacon.js"' in b)
    assert '<script defer src="/thong-ke/widget.js"></script>' in proxied


def test_demo_page_runs_the_beacon_and_widget_for_its_site(client):
    """The page itself carries both scripts for ?site= (default demo)."""
    page = client.get("/?site=travinh").get_data(as_text=True)
    assert '<script defer src="http://localhost/beacon.js" data-site="travinh"></script>' in page
    assert '<div data-visitor-stats data-site="travinh" data-rows="online,today,yesterday,week,month,total">' in page
    assert '<span data-visitor-views data-site="travinh"></span>' in page  # under the article
    assert page.count('<span data-visitor-views data-site="travinh" data-path="/tin-tuc/') == 3  # the list
    assert '<ol class="most-read" data-visitor-top data-site="travinh" data-period="week" data-limit="5">' in page
    assert "data-site=&#34;travinh&#34;" in page  # and the snippets follow it


@pytest.mark.parametrize("site", ["Bad", "-x", "a" * 64, "a/b", "<script>"])
def test_demo_page_rejects_a_malformed_site(client, site):
    """A malformed ?site= is a 400 in the JSON error shape."""
    response = client.get("/", query_string={"site": site})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_demo_page_sends_strict_security_headers(client):
    """Its CSP allows only its own files: no inline script or style is needed."""
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"

    page = response.get_data(as_text=True)
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", page)), "inline script"
    assert "<style" not in page and " style=" not in page
    assert client.get("/static/demo.css").status_code == 200
