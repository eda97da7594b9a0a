"""CSV downloads of a site: the daily history, the most-read pages, sources and devices, the same numbers as the JSON API."""

from __future__ import annotations

from flask import g, request

from ..context import clock, settings, store
from ..model.periods import DETAIL_PERIODS, PERIODS, period_days
from . import bp, csv_export, report
from .middleware import chart_days, page, visible_site

CSV_TOP_PERIODS = (*report.TOP_PERIODS, *(p for p in PERIODS if p != "today"))


@bp.get("/sites/<site_id>/history.csv")
def history_csv(site_id: str):
    """The daily history of the chosen range, as the history API answers it."""
    site = visible_site(site_id)
    days = chart_days()
    rows = report.daily(store(), site, clock().astimezone(site.tz).date(), days)
    return csv_export.download(f"{site.id}-history-{days}d.csv", ["date", "visits", "pageviews", "visitors"],
                               [[r["date"], r["visits"], r["pageviews"], r["visitors"]] for r in rows])


@bp.get("/sites/<site_id>/top.csv")
def top_csv(site_id: str):
    """The most-read pages of a period (the /top periods, or 7d and 30d), as /top answers them."""
    site = visible_site(site_id)
    period = request.args.get("period", "7d")
    if period not in CSV_TOP_PERIODS:
        return page("dashboard/error.html", 400, message=g.words("bad_period"))
    now = clock()
    today = now.astimezone(site.tz).date()
    limit = 50
    if period in report.TOP_PERIODS:
        pages = store().top_pages_of_days(site, report.days_back(today, report.TOP_PERIODS[period]), limit)
    else:
        pages = store().top_pages(site, period, limit, now, settings().week_start_index)
    return csv_export.download(f"{site.id}-top-{period}.csv", ["path", "title", "views"],
                               [[p["path"], p["title"] or "", p["views"]] for p in pages])


def _detail_sums(site):
    """The period asked for (a 400 page for one the API would refuse) and its summed day hashes (one round trip)."""
    period = request.args.get("period", report.DETAIL_DEFAULT)
    if period not in DETAIL_PERIODS:
        return period, None
    today = clock().astimezone(site.tz).date()
    return period, store().read_breakdowns(site, period_days(period, today, settings().week_start_index))


@bp.get("/sites/<site_id>/sources.csv")
def sources_csv(site_id: str):
    """Visits by channel and source over a period: every source, direct ones with an empty name, summing to
    the sources API's channels."""
    return _detail_csv(site_id, "sources", ["channel", "source", "visits"], report.source_rows)


@bp.get("/sites/<site_id>/devices.csv")
def devices_csv(site_id: str):
    """Visits by device type, browser, OS and in-app browser over a period, as the devices API lists them."""
    return _detail_csv(site_id, "devices", ["dimension", "name", "visits"], report.device_rows)


def _detail_csv(site_id: str, name: str, header: list[str], rows_of):
    """A visible site's breakdown over the asked period as CSV, or 400 for a period there is none of."""
    site = visible_site(site_id)
    period, sums = _detail_sums(site)
    if sums is None:
        return page("dashboard/error.html", 400, message=g.words("bad_period"))
    return csv_export.download(f"{site.id}-{name}-{period}.csv", header, rows_of(sums))
