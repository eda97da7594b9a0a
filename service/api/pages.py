"""Public page numbers for the embeds: "Lượt xem" of pages and "Tin đọc nhiều" (most read)."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from ..context import clock, lookup_site, settings, store
from .cors import allow_any_origin
from ..errors import BadRequest, UnknownSite
from ..model.page_urls import page_key
from ..model.sites import valid_site_id
from ..storage import PERIODS
from .counters import cacheable

bp = Blueprint("pages", __name__)
bp.after_request(allow_any_origin)

MAX_PATHS = 100
"""Pages one request may ask for (an article list)."""
MAX_TOP = 50
MAX_PATH_ARG_CHARS = 2048


def _site(site_id: str):
    if not valid_site_id(site_id):
        raise UnknownSite("site ids match [a-z0-9][a-z0-9-]{0,62}")
    return lookup_site(site_id)


@bp.get("/api/v1/sites/<site_id>/pages")
def pages(site_id: str):
    """Today's and all-time views of up to 100 pages (raw paths or full URLs), in the order asked."""
    site = _site(site_id)
    asked = request.args.getlist("path")
    if not 1 <= len(asked) <= MAX_PATHS:
        raise BadRequest(f"give 1 to {MAX_PATHS} path parameters (?path=/a&path=/b)")
    normalized = []
    for raw in asked:
        if not raw or len(raw) > MAX_PATH_ARG_CHARS or not raw.startswith(("/", "http://", "https://")):
            raise BadRequest("each path is a path starting with / or an http(s) URL, at most 2048 characters")
        normalized.append(page_key(raw, site.page_params))
    key = (site.id, tuple(normalized))
    now = clock()
    answer, stale = current_app.extensions["page_cache"].read(key, lambda: {
        "as_of": now.astimezone(site.tz).isoformat(timespec="seconds"),
        "pages": store().read_pages(site, normalized, now)})
    return cacheable({"site": site.id, "as_of": answer["as_of"], "pages": answer["pages"], "stale": stale}, stale)


@bp.get("/api/v1/sites/<site_id>/top")
def top(site_id: str):
    """The most viewed pages of a period, with titles, most viewed first."""
    site = _site(site_id)
    period = request.args.get("period", "week")
    if period not in PERIODS:
        raise BadRequest(f"period must be one of {', '.join(PERIODS)}")
    raw_limit = request.args.get("limit", "10")
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3) or not 1 <= int(raw_limit) <= MAX_TOP:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_TOP}")
    limit = int(raw_limit)
    now = clock()
    answer, stale = current_app.extensions["page_cache"].read((site.id, period, limit), lambda: {
        "as_of": now.astimezone(site.tz).isoformat(timespec="seconds"),
        "pages": store().top_pages(site, period, limit, now, settings().week_start_index)})
    return cacheable({"site": site.id, "period": period, "as_of": answer["as_of"], "pages": answer["pages"],
                      "stale": stale}, stale)
