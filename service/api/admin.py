"""Admin API: register sites, import baselines, read history (Bearer token)."""

from __future__ import annotations

import functools
import hmac
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request

from ..context import clock, forget_site, lookup_site, settings, store
from ..model import page_baseline
from ..errors import AdminDisabled, BadRequest, BodyTooLarge, Unauthorized, UnknownSite, UnsupportedMediaType
from ..ingest.beacon import parse_json
from ..model.sites import Site, valid_site_id
from ..storage import METRICS

bp = Blueprint("admin", __name__, url_prefix="/api/v1/sites")

MAX_BASELINE = 10**15
"""Largest baseline accepted: far above any real counter, far below Lua's exact-integer limit (2^53)."""
MAX_HISTORY_DAYS = 3660
MAX_PAGE_BASELINE_BYTES = 256 * 2**20
"""Largest page baseline upload: a million rows of long paths."""


@bp.before_request
def require_admin():
    """Check the Bearer token before any admin route runs (constant-time compare)."""
    token = settings().ADMIN_TOKEN
    if not token:
        raise AdminDisabled("admin API is disabled: set ADMIN_TOKEN to enable it")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})


def site_id_arg(view):
    """Reject malformed site ids in the path before anything else."""
    @functools.wraps(view)
    def wrapper(site_id: str, **kwargs):
        if not valid_site_id(site_id):
            raise BadRequest("site id must match [a-z0-9][a-z0-9-]{0,62}")
        return view(site_id, **kwargs)
    return wrapper


def json_body() -> object:
    """The request's JSON body (any content type; curl -d sends form encoding), or BadRequest."""
    raw = request.get_data(cache=False)
    if not raw:
        raise BadRequest("body must be JSON (Content-Type: application/json)")
    return parse_json(raw)


@bp.put("/<site_id>")
@site_id_arg
def put_site(site_id: str):
    """Create or update a site's domains and time zone."""
    site = Site.from_request(site_id, json_body(), settings().DEFAULT_TIMEZONE)
    created = store().put_site(site)
    forget_site(site_id)
    return jsonify(site.as_json()), 201 if created else 200


@bp.get("/<site_id>")
@site_id_arg
def get_site(site_id: str):
    """Read a site's settings."""
    site = store().get_site(site_id)
    if site is None:
        raise UnknownSite(f"no site {site_id!r} is registered here")
    return jsonify(site.as_json())


@bp.get("")
def list_sites():
    """List registered site ids."""
    return jsonify(sites=store().list_sites())


@bp.delete("/<site_id>")
@site_id_arg
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
@site_id_arg
def put_baseline(site_id: str):
    """Set the all-time numbers carried over from an older counter (replaces, never adds)."""
    lookup_site(site_id)
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    unknown = set(body) - set(METRICS) - {"source"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    values = {}
    for metric in METRICS:
        value = body.get(metric, 0)
        if type(value) is not int or not 0 <= value <= MAX_BASELINE:
            raise BadRequest(f"{metric} must be a whole number from 0 to {MAX_BASELINE}")
        values[metric] = value
    source = body.get("source", "")
    if not isinstance(source, str) or len(source) > 500:
        raise BadRequest("source must be a string of at most 500 characters")
    audit = {"at": clock().isoformat(timespec="seconds"), "by": "api", "source": source}
    baseline = store().set_baseline(site_id, values, audit)
    forget_site(site_id)
    return jsonify(site=site_id, baseline=baseline)


@bp.get("/<site_id>/baseline")
@site_id_arg
def get_baseline(site_id: str):
    """The current baseline and who set it, newest change first."""
    lookup_site(site_id)
    current, log = store().get_baseline(site_id)
    return jsonify(site=site_id, baseline=current, changes=log)


@bp.put("/<site_id>/pages/baseline")
@site_id_arg
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
    report = page_baseline.run_import(rows, site.page_params, lambda chunk: store().set_page_baselines(site.id, chunk))
    store().log_page_baseline(site.id, {"at": clock().isoformat(timespec="seconds"), "by": "api",
                                        "source": request.args.get("source", "")[:500],
                                        **{k: v for k, v in report.as_json().items() if k != "rejections"}})
    current_app.extensions["page_cache"].answers.clear()
    return jsonify(site=site.id, **report.as_json())


@bp.get("/<site_id>/history")
@site_id_arg
def history(site_id: str):
    """One row per local day, oldest first, ending today."""
    site = lookup_site(site_id)
    raw = request.args.get("days", "30")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5) or not 1 <= int(raw) <= MAX_HISTORY_DAYS:
        raise BadRequest(f"days must be a whole number from 1 to {MAX_HISTORY_DAYS}")
    today = clock().astimezone(site.tz).date()
    days = [today - timedelta(days=n) for n in range(int(raw) - 1, -1, -1)]
    return jsonify(site=site.id, timezone=site.timezone, days=store().history(site, days))

