"""Where readers come from and on what: a site's sources and devices over a period (operator or site token)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..access import Action
from ..context import clock, lookup_site, settings, store
from ..errors import BadRequest
from ..model import breakdowns
from ..model.periods import DETAIL_PERIODS, local_day, period_days
from .admin import allowed, authenticate

bp = Blueprint("breakdowns", __name__, url_prefix="/api/v1/sites")
bp.before_request(authenticate)

MAX_SOURCES = 100


def _period() -> str:
    period = request.args.get("period", "week")
    if period not in DETAIL_PERIODS:
        raise BadRequest(f"period must be one of {', '.join(DETAIL_PERIODS)}")
    return period


def _read(kind: str, site, period: str, shape):
    """The period's summed breakdowns (one round trip, through the short read cache), shaped by ``shape``."""
    now = clock()
    days = period_days(period, local_day(now, site.tz), settings().week_start_index)
    answer, stale = current_app.extensions["page_cache"].read((kind, site.id, period), lambda: {
        "as_of": now.astimezone(site.tz).isoformat(timespec="seconds"),
        **shape(store().read_breakdowns(site, days))})
    return {"site": site.id, "period": period, "from": days[0].isoformat(), "to": days[-1].isoformat(),
            **answer, "stale": stale}


@bp.get("/<site_id>/sources")
@allowed(Action.READ_SITE)
def sources(site_id: str):
    """Visits by channel, and the top sources by name, over a period."""
    site = lookup_site(site_id)
    period = _period()
    raw = request.args.get("limit", "20")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_SOURCES:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_SOURCES}")
    limit = int(raw)
    answer = _read("sources", site, period, lambda sums: breakdowns.sources_answer(sums, MAX_SOURCES))
    return jsonify({**answer, "sources": answer["sources"][:limit]})


@bp.get("/<site_id>/devices")
@allowed(Action.READ_SITE)
def devices(site_id: str):
    """Visits by device, browser, OS and in-app browser, over a period."""
    site = lookup_site(site_id)
    return jsonify(_read("devices", site, _period(), breakdowns.devices_answer))
