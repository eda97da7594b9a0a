"""Admin API: register sites, import baselines, read history (Bearer token)."""

from __future__ import annotations

import functools
import json

from flask import Blueprint, current_app, g, jsonify, request

from ..context import clock, forget_site, lookup_site, settings, store
from .. import access, operations
from ..access import Action
from ..model import page_baseline, site_rows
from ..errors import BadRequest, BodyTooLarge, UnknownSite, UnsupportedMediaType
from ..ingest.beacon import parse_json
from ..model.sites import Site, valid_site_id
from ..storage import METRICS

bp = Blueprint("admin", __name__, url_prefix="/api/v1/sites")

MAX_SITES_IMPORT_BYTES = 32 * 2**20
"""Largest sites import: 10,000 rows of many domains."""
MAX_PAGE_BASELINE_BYTES = 256 * 2**20
"""Largest page baseline upload: a million rows of long paths."""


@bp.before_request
def authenticate():
    """Know who asks before any admin route runs: a bearer credential, or 401/403."""
    g.principal = access.from_bearer(settings(), store(), request.headers.get("Authorization", ""),
                                     request.remote_addr or "", clock())


def allowed(action: Action):
    """Let the view run only for a principal that may do ``action`` (on the path's site, if any).

    A malformed site id is a 400 before anything else; a site the principal may not touch is a
    403, whether or not it exists.
    """
    def decorate(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            site_id = kwargs.get("site_id")
            if site_id is not None and not valid_site_id(site_id):
                raise BadRequest("site id must match [a-z0-9][a-z0-9-]{0,62}")
            access.require(g.principal, action, site_id)
            return view(**kwargs)
        return wrapper
    return decorate


def json_body() -> object:
    """The request's JSON body (any content type; curl -d sends form encoding), or BadRequest."""
    raw = request.get_data(cache=False)
    if not raw:
        raise BadRequest("body must be JSON (Content-Type: application/json)")
    body = parse_json(raw)
    try:  # JSON's "\ud800" escape (a lone surrogate) decodes, but no UTF-8 can carry it to Redis
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        raise BadRequest("body has text that is not Unicode (a lone \\uD800-\\uDFFF escape)") from None
    return body


@bp.put("/<site_id>")
@allowed(Action.MANAGE_SITES)
def put_site(site_id: str):
    """Create or update a site's domains and time zone."""
    site = Site.from_request(site_id, json_body(), settings().DEFAULT_TIMEZONE)
    created = store().put_site(site)
    forget_site(site_id)
    return jsonify(site.as_json()), 201 if created else 200


@bp.get("/<site_id>")
@allowed(Action.READ_SITE)
def get_site(site_id: str):
    """Read a site's settings."""
    site = store().get_site(site_id)
    if site is None:
        raise UnknownSite(f"no site {site_id!r} is registered here")
    return jsonify(site.as_json())


@bp.get("")
@allowed(Action.LIST_SITES)
def list_sites():
    """A page of the sites list with their numbers (a site token: its own sites only)."""
    args = request.args
    raw = args.get("limit", "100")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= operations.MAX_LIST_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {operations.MAX_LIST_LIMIT}")
    sort = args.get("sort", "site")
    if sort not in operations.LIST_SORTS:
        raise BadRequest(f"sort must be one of {', '.join(operations.LIST_SORTS)}")
    group = args.get("group", "")
    if group and not valid_site_id(group):
        raise BadRequest("group must match [a-z0-9][a-z0-9-]{0,62}")
    q = args.get("q", "")
    if len(q) > 253:
        raise BadRequest("q is at most 253 characters")
    page = operations.sites_page(store(), g.principal.sites, clock(), settings().week_start_index,
                                 limit=int(raw), cursor=args.get("cursor", "")[:1000], q=q, group=group, sort=sort)
    return jsonify(page)


@bp.put("")
@allowed(Action.MANAGE_SITES)
def put_sites():
    """Create or update many sites (CSV or JSON, streamed), each row on its own; answer what each did."""
    request.max_content_length = MAX_SITES_IMPORT_BYTES
    if request.content_length is not None and request.content_length > MAX_SITES_IMPORT_BYTES:
        raise BodyTooLarge(f"a sites import is at most {MAX_SITES_IMPORT_BYTES // 2**20} MiB")
    if request.mimetype == "text/csv":
        rows = site_rows.csv_rows(request.stream)
    elif request.mimetype in ("application/json", ""):
        rows = site_rows.json_rows(request.stream)
    else:
        raise UnsupportedMediaType("send Content-Type text/csv (site,domains,timezone,group) or application/json")
    report = operations.import_sites(store(), rows, settings().DEFAULT_TIMEZONE)
    current_app.extensions["site_cache"].clear()
    return jsonify(report.as_json())


@bp.delete("/<site_id>")
@allowed(Action.MANAGE_SITES)
def delete_site(site_id: str):
    """Stop counting a site; ``?purge=true`` also erases its counters and history."""
    purge = request.args.get("purge", "false").lower()
    if purge not in ("true", "false", "1", "0"):
        raise BadRequest("purge must be true or false")
    if not store().delete_site(site_id, purge=purge in ("true", "1")):
        raise UnknownSite(f"no site {site_id!r} is registered here")
    forget_site(site_id)
    return "", 204


@bp.put("/<site_id>/baseline")
@allowed(Action.SET_BASELINES)
def put_baseline(site_id: str):
    """Set the all-time numbers carried over from an older counter (replaces, never adds)."""
    site = lookup_site(site_id)
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    unknown = set(body) - set(METRICS) - {"source"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    values = {}
    for metric in METRICS:
        value = body.get(metric, 0)
        if type(value) is not int or not 0 <= value <= operations.MAX_BASELINE:
            raise BadRequest(f"{metric} must be a whole number from 0 to {operations.MAX_BASELINE}")
        values[metric] = value
    source = body.get("source", "")
    if not isinstance(source, str) or len(source) > 500:
        raise BadRequest("source must be a string of at most 500 characters")
    baseline = operations.set_baseline(store(), site, values, now=clock(), by="api", source=source)
    forget_site(site_id)
    return jsonify(site=site_id, baseline=baseline)


@bp.get("/<site_id>/baseline")
@allowed(Action.READ_SITE)
def get_baseline(site_id: str):
    """The current baseline and who set it, newest change first."""
    lookup_site(site_id)
    current, log = store().get_baseline(site_id)
    return jsonify(site=site_id, baseline=current, changes=log)


@bp.put("/<site_id>/pages/baseline")
@allowed(Action.SET_BASELINES)
def put_page_baseline(site_id: str):
    """Import per-page views from an older CMS (JSON or CSV, streamed); replaces each listed page's baseline."""
    site = lookup_site(site_id)
    request.max_content_length = MAX_PAGE_BASELINE_BYTES
    if request.content_length is not None and request.content_length > MAX_PAGE_BASELINE_BYTES:
        raise BodyTooLarge(f"a page baseline import is at most {MAX_PAGE_BASELINE_BYTES // 2**20} MiB")
    mimetype = request.mimetype
    if mimetype == "text/csv":
        rows = page_baseline.csv_rows(request.stream)
    elif mimetype in ("application/json", ""):
        rows = page_baseline.json_rows(request.stream)
    else:
        raise UnsupportedMediaType("send Content-Type text/csv (path,views) or application/json")
    report = operations.import_page_baseline(store(), site, rows, now=clock(), by="api",
                                             source=request.args.get("source", ""))
    current_app.extensions["page_cache"].answers.clear()
    return jsonify(site=site.id, **report.as_json())


@bp.get("/<site_id>/history")
@allowed(Action.READ_SITE)
def history(site_id: str):
    """One row per local day, oldest first, ending today."""
    site = lookup_site(site_id)
    raw = request.args.get("days", "30")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5) or not 1 <= int(raw) <= operations.MAX_HISTORY_DAYS:
        raise BadRequest(f"days must be a whole number from 1 to {operations.MAX_HISTORY_DAYS}")
    return jsonify(site=site.id, timezone=site.timezone, days=operations.history(store(), site, clock(), int(raw)))

