"""Page hits from the beacon and the <noscript> pixel."""

from __future__ import annotations

import base64

from flask import Blueprint, Response, request

from .. import metrics
from ..beacon import Beacon
from ..context import clock, lookup_site, recorder, store
from ..cors import allow_any_origin
from ..errors import ApiError, TooManyRequests
from ..filters import drop_reason
from ..store import Hit
from ..visitor import address_id, visitor_id

bp = Blueprint("ingest", __name__)
bp.after_request(allow_any_origin)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NOT_COUNTED = {"rate_limited", "dropped"}
"""Outcomes the recorder knows at once that mean 'not counted' (said in X-Not-Counted)."""


@bp.post("/api/v1/hit")
def hit():
    """Count a page view or presence ping sent by beacon.js."""
    reason = ingest(lambda: Beacon.from_post(request))
    return Response(status=204, headers=_outcome_headers(reason))


@bp.get("/api/v1/hit.gif")
def pixel():
    """Count a page view from the <noscript> image (a HEAD request only checks it is there)."""
    if request.method == "HEAD":
        return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store"})
    reason = ingest(lambda: Beacon.from_query(request.args))
    headers = {"Cache-Control": "no-store", **_outcome_headers(reason)}
    return Response(PIXEL, mimetype="image/gif", headers=headers)


def ingest(parse) -> str | None:
    """Run a hit through parse → site → filters → recorder; answer why it was not counted."""
    try:
        beacon = parse()
        site = lookup_site(beacon.site)
    except ApiError as exc:
        metrics.HITS.labels(outcome="unknown_site" if exc.status == 404 else "invalid").inc()
        raise
    if reason := drop_reason(beacon, site, request.headers):
        metrics.HITS.labels(outcome=reason).inc()
        return reason
    now = clock()
    user_agent = request.headers.get("User-Agent", "")
    address = request.remote_addr or ""
    salt = store().salt(now.astimezone(site.tz).date(), now)
    hit = Hit(site.id, visitor_id(salt, site.id, address, user_agent), beacon.kind, now, site.timezone,
              address_id(salt, address))
    outcome = recorder().record(hit)
    if outcome == "ip_limited":
        retry_after = 60 - int(now.timestamp()) % 60
        raise TooManyRequests("too many hits from one address; slow down", **{"Retry-After": str(retry_after)})
    return outcome if outcome in NOT_COUNTED else None


def _outcome_headers(reason: str | None) -> dict:
    return {"X-Not-Counted": reason} if reason else {}
