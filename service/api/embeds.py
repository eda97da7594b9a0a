"""What a portal embeds: beacon.js, widget.js, and the demo portal page that shows how."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, render_template, request, send_from_directory

from ..errors import BadRequest
from ..model.sites import valid_site_id

bp = Blueprint("embeds", __name__)

STATIC_DIR = Path(__file__).parent.parent / "static"
SCRIPT_MAX_AGE_SECONDS = 3600
"""How long browsers and proxies may reuse beacon.js and widget.js without asking."""

PROXY_PATH = "/thong-ke/"
"""The path the nginx snippet on the demo page proxies the service under."""

# The demo page loads only its own files: no inline script, no inline style.
DEMO_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _script(name: str) -> Response:
    """Serve a script any page may load, cacheable and revalidated with its ETag."""
    response = send_from_directory(STATIC_DIR, name, mimetype="text/javascript",
                                   max_age=SCRIPT_MAX_AGE_SECONDS)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/beacon.js")
def beacon_js():
    """The page-hit beacon."""
    return _script("beacon.js")


@bp.get("/widget.js")
def widget_js():
    """The statistics block."""
    return _script("widget.js")


@bp.get("/")
def demo():
    """A demo portal page with the live widget and the snippets to copy, for ?site= (demo)."""
    site = request.args.get("site", "demo")
    if not valid_site_id(site):
        raise BadRequest("site ids match [a-z0-9][a-z0-9-]{0,62}")
    base = request.url_root  # ends with "/", and includes a script root if mounted under one
    html = render_template(
        "demo.html",
        site=site,
        base=base,
        page_url=request.base_url,
        proxy_path=PROXY_PATH,
    )
    response = Response(html, mimetype="text/html")
    response.headers.update({
        "Content-Security-Policy": DEMO_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    })
    return response
