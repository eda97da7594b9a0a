"""Page hits from the beacon and the <noscript> pixel."""

from __future__ import annotations

import base64

from flask import Blueprint, Response, current_app, request

from ..ingest.beacon import Beacon
from .cors import allow_any_origin
from ..errors import TooManyRequests
from ..model.hits import Outcome

bp = Blueprint("ingest", __name__)
bp.after_request(allow_any_origin)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@bp.post("/api/v1/hit")
def hit():
    """Count a page view or presence ping sent by beacon.js."""
    environ = request.environ
    reason = ingest(lambda: Beacon.from_post(environ), environ)
    response = Response(status=204)
    if reason:  # rare: most hits count
        response.headers["X-Not-Counted"] = reason
    return response


@bp.get("/api/v1/hit.gif")
def pixel():
    """Count a page view from the <noscript> image (a HEAD request only checks it is there)."""
    if request.method == "HEAD":
        return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store"})
    reason = ingest(lambda: Beacon.from_query(request.args), request.environ)
    headers = {"Cache-Control": "no-store", **_outcome_headers(reason)}
    return Response(PIXEL, mimetype="image/gif", headers=headers)


def ingest(parse, environ: dict) -> str | None:
    """Count one hit; answer why it was not counted (for X-Not-Counted), or raise a 4xx."""
    outcome, now = current_app.extensions["hits"].count(parse, environ)
    if outcome == Outcome.IP_LIMITED:
        retry_after = 60 - int(now.timestamp()) % 60
        raise TooManyRequests("too many hits from one address; slow down", **{"Retry-After": str(retry_after)})
    return outcome if outcome.reported else None


def _outcome_headers(reason: str | None) -> dict:
    return {"X-Not-Counted": reason} if reason else {}
