"""Public counters the widget polls: cached, cacheable, CORS-open."""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, request

from ..context import clock, counter_cache, lookup_site, settings
from .cors import allow_any_origin
from ..errors import UnknownSite
from ..model.sites import valid_site_id

bp = Blueprint("counters", __name__)
bp.after_request(allow_any_origin)


@bp.get("/api/v1/sites/<site_id>/counters")
def counters(site_id: str):
    """Online now, today, this week and all time of one site."""
    if not valid_site_id(site_id):
        raise UnknownSite("site ids match [a-z0-9][a-z0-9-]{0,62}")
    site = lookup_site(site_id)
    numbers, stale = counter_cache().read(site, clock())
    body = {
        "site": site.id,
        "timezone": site.timezone,
        "as_of": numbers["as_of"],
        "online": numbers["online"],
        "today": numbers["today"],
        "yesterday": numbers["yesterday"],
        "week": numbers["week"],
        "month": numbers["month"],
        "total": numbers["total"],
        "stale": stale,
    }
    return cacheable(body, stale)


def cacheable(body: dict, stale: bool) -> Response:
    """A public JSON answer with an ETag (304 when unchanged) and the cache's max-age (0 when stale)."""
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    response = Response(payload, mimetype="application/json")
    response.set_etag(hashlib.blake2b(payload.encode(), digest_size=10).hexdigest(), weak=True)
    max_age = 0 if stale else int(settings().COUNTERS_CACHE_SECONDS)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response.make_conditional(request)
