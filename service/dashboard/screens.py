"""The dashboard's screens: the operator's table of every site, and one site's numbers."""

from __future__ import annotations

from datetime import date

from flask import request

from .. import access
from ..access import Action
from ..context import clock, settings, store
from . import bp, charts, report
from .middleware import chart_days, detail_period, page, signed_in, visible_site

SORTS = ("site", "online", "today", "week", "total")


@bp.get("")
def home():
    """The table of sites: every site for the operator, its own for a site token (a share: 403)."""
    access.require(signed_in().principal, Action.OPERATOR_SCREEN)
    sort = request.args.get("sort", "site")
    sort = sort if sort in SORTS else "site"
    descending = request.args.get("dir", "asc" if sort == "site" else "desc") == "desc"
    viewer = signed_in()
    found = [s for s in store().get_sites(viewer.principal.visible(store().list_sites())) if s is not None]
    rows = report.site_rows(store(), found, clock(), settings().week_start_index)
    rows.sort(key=lambda r: r[sort], reverse=descending)
    for row in rows:
        row["spark"] = charts.sparkline(row["trend"])
    totals = {col: sum(r[col] for r in rows) for col in SORTS if col != "site"}
    return page("dashboard/sites.html", rows=rows, sort=sort, descending=descending, sorts=SORTS, totals=totals)


@bp.get("/sites/<site_id>")
def site_screen(site_id: str):
    """One site: headline numbers with their change, the daily chart and table, most read, not counted,
    where readers came from and on what devices."""
    site = visible_site(site_id)
    now, days, period = clock(), chart_days(), detail_period()
    numbers = report.headline(store(), site, now, settings().week_start_index)
    today = numbers["today"]
    rows = report.daily(store(), site, today, days)
    return page("dashboard/site.html", site=site, numbers=numbers, days=days, ranges=report.RANGES, rows=rows,
                chart=charts.daily_chart(rows), series=charts.SERIES, dates=[date.fromisoformat(r["date"]) for r in rows],
                tops=report.top_lists(store(), site, today), not_counted=report.not_counted(store(), site, today),
                reasons=report.NOT_COUNTED_REASONS, as_of=now.astimezone(site.tz),
                detail=report.detail(store(), site, today, period, settings().week_start_index),
                detail_choices=report.DETAIL_CHOICES,
                link_host=next((d for d in site.domains if not d.startswith("*.")), None))
