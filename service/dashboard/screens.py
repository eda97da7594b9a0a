"""The dashboard's screens: the operator's table of every site, and one site's numbers."""

from __future__ import annotations

from datetime import date

from flask import g, request

from .. import access, operations
from ..access import Action
from ..context import clock, settings, store
from ..errors import ApiError
from ..model import site_rows
from . import bp, charts, csv_export, report
from .middleware import chart_days, csrf_ok, detail_period, page, signed_in, visible_site

SORTS = ("site", "online", "today", "week", "total")
NUMBERS = ("online", "today", "week", "total")
PAGE_ROWS = 50
"""Sites per page of the operator's table."""
MAX_IMPORT_BYTES = 32 * 2**20


def listing(principal) -> tuple[list[dict], list[dict], dict, dict, dict]:
    """Every site this viewer may see, numbered (two round trips whatever their number): the rows the
    search keeps in the chosen order, all rows, the totals, the groups' totals, and the sites by id."""
    sites = [s for s in store().catalogue() if principal.sites is None or s.id in principal.sites]
    everyone = report.overview(store(), sites, clock(), settings().week_start_index)
    needle = request.args.get("q", "").strip().lower()[:253]
    rows = [r for r in everyone if not needle or needle in r["site"] or any(needle in d for d in r["domains"])]
    sort = request.args.get("sort", "site")
    sort = sort if sort in SORTS else "site"
    descending = request.args.get("dir", "asc" if sort == "site" else "desc") == "desc"
    rows.sort(key=lambda r: r["site"], reverse=descending and sort == "site")
    if sort != "site":
        rows.sort(key=lambda r: r[sort], reverse=descending)
    groups: dict[str, list[dict]] = {}
    for row in everyone:
        if row["group"]:
            groups.setdefault(row["group"], []).append(row)
    names = sorted(groups)
    group_totals = {name: {"sites": len(groups[name]), "label": label, **report.sums(groups[name], NUMBERS)}
                    for name, label in zip(names, store().group_labels(names))}
    return rows, everyone, report.sums(everyone, NUMBERS), group_totals, {s.id: s for s in sites}


@bp.get("")
def home(imported=None, status: int = 200):
    """The table of sites, 50 a page, searched and sorted, with totals for all and for each group: every
    site for the operator, its own for a site token (a share: 403). A fixed number of round trips."""
    viewer = signed_in()
    access.require(viewer.principal, Action.OPERATOR_SCREEN)
    rows, everyone, totals, group_totals, by_id = listing(viewer.principal)
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    raw = request.args.get("page", "1")
    number = min(int(raw), pages) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 6 and int(raw) > 0 else 1
    shown = rows[(number - 1) * PAGE_ROWS:number * PAGE_ROWS]
    report.add_trends(store(), shown, by_id, clock())
    for row in shown:
        row["spark"] = charts.sparkline(row["trend"])
    sort = request.args.get("sort", "site")
    sort = sort if sort in SORTS else "site"
    descending = request.args.get("dir", "asc" if sort == "site" else "desc") == "desc"
    return page("dashboard/sites.html", status, rows=shown, found=len(rows), registered=len(everyone),
                page_number=number, pages=pages, q=request.args.get("q", "")[:253], sort=sort, descending=descending,
                sorts=SORTS, totals=totals, group_totals=group_totals, imported=imported,
                may_import=viewer.principal.may(Action.MANAGE_SITES))


@bp.get("/sites.csv")
def sites_csv():
    """The whole table (every page, as searched and sorted) as CSV: the same rows as the screen."""
    viewer = signed_in()
    access.require(viewer.principal, Action.OPERATOR_SCREEN)
    rows, *_ = listing(viewer.principal)
    header = ["site", "group", "domains", "timezone", "online", "today_visits", "week_visits", "total_visits"]
    return csv_export.download("sites.csv", header, [[r["site"], r["group"], " ".join(r["domains"]), r["timezone"],
                                                      r["online"], r["today"], r["week"], r["total"]] for r in rows])


@bp.post("/sites/import")
def import_sites():
    """Create or update the sites of an uploaded CSV or JSON file; the table then shows what each row did."""
    viewer = signed_in()
    access.require(viewer.principal, Action.MANAGE_SITES)
    request.max_content_length = MAX_IMPORT_BYTES
    if not csrf_ok(viewer):
        return page("dashboard/error.html", 400, message=g.words("form_expired"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return home(imported={"failed": g.words("import_no_file")}, status=400)
    is_json = upload.filename.lower().endswith(".json") or upload.mimetype == "application/json"
    rows = site_rows.json_rows(upload.stream) if is_json else site_rows.csv_rows(upload.stream)
    try:
        done = operations.import_sites(store(), rows, settings().DEFAULT_TIMEZONE)
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return home(imported={"failed": exc.message}, status=400)
    from flask import current_app
    current_app.extensions["site_cache"].clear()
    return home(imported=done.as_json())


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
