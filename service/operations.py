"""What the admin API and the CLI both do: one function per admin operation, audit records included.

The API and the CLI only turn their input (JSON, CSV upload, options) into these calls and
their answers into JSON or lines, so both leave the same audit trail and read the same days.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta

from .errors import ApiError, BadRequest, Conflict, UnknownSite
from .model import page_baseline, site_rows, tokens
from .model.page_baseline import ImportReport
from .model.sites import Site, valid_site_id

MAX_BASELINE = 10**15
"""Largest baseline accepted: far above any real counter, far below Lua's exact-integer limit (2^53)."""
MAX_HISTORY_DAYS = 3660
MAX_SOURCE_CHARS = 500


def audit(now: datetime, by: str, source: str) -> dict:
    """Who changed a baseline, when (the service's clock) and from what."""
    return {"at": now.isoformat(timespec="seconds"), "by": by, "source": source[:MAX_SOURCE_CHARS]}


def set_baseline(store, site: Site, values: dict[str, int], *, now: datetime, by: str, source: str = "") -> dict:
    """Replace a site's all-time baseline (never adds) and log the change; answer the new baseline."""
    return store.set_baseline(site.id, values, audit(now, by, source))


def import_page_baseline(store, site: Site, rows, *, now: datetime, by: str, source: str = "") -> ImportReport:
    """Replace the baseline views of the pages in ``rows`` (checked whole first) and log the import."""
    report = page_baseline.run_import(rows, site.page_params, lambda chunk: store.set_page_baselines(site.id, chunk))
    store.log_page_baseline(site.id, {**audit(now, by, source),
                                      **{k: v for k, v in report.as_json().items() if k != "rejections"}})
    return report


def history_days(site: Site, now: datetime, count: int) -> list[date]:
    """The ``count`` local days of the site ending today, oldest first."""
    today = now.astimezone(site.tz).date()
    return [today - timedelta(days=n) for n in range(count - 1, -1, -1)]


def history(store, site: Site, now: datetime, count: int) -> list[dict]:
    """One row per local day (date, visits, pageviews, visitors), oldest first, ending today."""
    return store.history(site, history_days(site, now, count))


def create_token(store, label: str, sites: list[str], days: int | None, now: datetime) -> dict:
    """Make a site token for registered ``sites``; answer its record with the token itself (shown once)."""
    missing = [site_id for site_id, site in zip(sites, store.get_sites(sites)) if site is None]
    if missing:
        raise UnknownSite(f"no site {missing[0]!r} is registered here")
    if store.count_tokens() >= tokens.MAX_TOKENS:
        raise Conflict(f"at most {tokens.MAX_TOKENS} site tokens: revoke some first")
    token_id, secret, record = tokens.new_token(label, sites, days, now)
    store.put_token(token_id, record)
    return {**tokens.public(token_id, record), "token": secret}


def list_tokens(store, now: datetime) -> list[dict]:
    """Every site token without its secret, oldest first (expired ones too, marked by their date)."""
    found, used = store.list_tokens()
    listed = [tokens.public(i, r, used.get(i)) for i, r in found.items()]
    return sorted(listed, key=lambda t: (t["created"], t["id"]))


def list_sessions(store, now: datetime) -> list[dict]:
    """Every live dashboard session: id, role, the credential it was opened with, its sites, start and end."""
    rows = [{"id": i, "role": r.get("role"), "credential": r.get("credential") or None, "sites": r.get("sites"),
             "started": r.get("started"), "ends": r.get("ends")} for i, r in store.list_sessions(now).items()]
    return sorted(rows, key=lambda s: (s["started"] or "", s["id"]))


IMPORT_CHUNK = 500
"""Rows of a bulk site import checked and written per chunk (three round trips each)."""


def import_sites(store, rows, default_timezone: str) -> site_rows.SitesReport:
    """Create or update many sites from ``rows`` (site_rows.Row, streamed), each on its own: a bad row is
    reported and changes nothing, the others apply; a site already so is 'unchanged'."""
    report = site_rows.SitesReport()
    seen: set[str] = set()
    chunk: list[site_rows.Row] = []

    def flush() -> None:
        ids = [row.site for row in chunk]
        existing = store.get_sites(ids)
        good, before = [], []
        for row, old in zip(chunk, existing):
            try:
                good.append(site_rows.site_of(row, old, default_timezone))
                before.append(old)
            except ApiError as exc:
                report.refuse(row.number, row.site, exc.code, exc.message)
        for outcome in store.put_sites(good, before):
            setattr(report, outcome, getattr(report, outcome) + 1)
        chunk.clear()

    for count, row in enumerate(rows, 1):
        if count > site_rows.MAX_ROWS:
            report.refuse(row.number, row.site, "too_many_rows",
                          f"at most {site_rows.MAX_ROWS:,} rows per import: this one and those after it were not read")
            break
        if row.problem:
            report.refuse(row.number, row.site, *row.problem)
        elif not valid_site_id(row.site):
            report.refuse(row.number, row.site, "bad_request", "site must match [a-z0-9][a-z0-9-]{0,62}")
        elif row.site in seen:
            report.refuse(row.number, row.site, "duplicate_site", "this site is in an earlier row of the file")
        else:
            seen.add(row.site)
            chunk.append(row)
            if len(chunk) >= IMPORT_CHUNK:
                flush()
    if chunk:
        flush()
    report.errors.sort(key=lambda e: e["row"])
    return report


def export_sites(store):
    """Every site as CSV text (the import's header and columns), in id order, a line at a time."""
    return site_rows.csv_text(store.catalogue())


LIST_SORTS = ("site", "-today", "-total", "-online")
"""Orders of the sites list: by id, or by today's visits, all-time visits or readers online, most first."""
MAX_LIST_LIMIT = 500


def encode_cursor(sort: str, key: list) -> str:
    """An opaque cursor: the sort and the last row's sort key, so the next page starts after it."""
    return base64.urlsafe_b64encode(json.dumps([sort, *key], separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list | None:
    """The sort key a cursor of ``sort`` carries, or BadRequest; None for no cursor."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        value = None
    shape = [str] if sort == "site" else [int, str]
    if (not isinstance(value, list) or len(value) != 1 + len(shape) or value[0] != sort
            or not all(type(v) is t for v, t in zip(value[1:], shape))):
        raise BadRequest("cursor is not one this list gave (with this sort)")
    return value[1:]


def sort_value(sort: str, numbers: dict) -> int:
    """A site's number a -today, -total or -online list is ordered by (visits for today and total)."""
    return numbers["online"] if sort == "-online" else numbers[sort[1:]]["visits"]


def sites_page(store, visible, now: datetime, week_start: int, *, limit: int = 100, cursor: str = "",
               q: str = "", group: str = "", sort: str = "site") -> dict:
    """One page of the sites list with each site's numbers, in a fixed number of round trips.

    ``visible``: the ids a site token may see (None: every site). In id order with no filter, the
    index gives the page (three round trips, each O(page)); with a search, a group, a site token or a
    numbers order, the catalogue is read whole and filtered here, and for a numbers order every
    candidate's counters are read in one pipeline (two round trips, the second O(sites)): a hit never
    maintains a ranking, so its cost does not grow. The cursor is the last row's sort key, so sites
    added or deleted between pages neither repeat nor hide the others.
    """
    after = decode_cursor(cursor, sort)
    needle = q.strip().lower()
    if sort == "site" and not needle and not group and visible is None:
        ids, count = store.site_ids_after(after[0] if after else "", limit + 1)
        more = len(ids) > limit
        page = store.catalogue(ids[:limit])
        numbers = store.read_counters_many(page, now, week_start)
        last = [ids[limit - 1]] if more else None
    else:
        candidates = [s for s in store.catalogue() if (visible is None or s.id in visible)
                      and (not group or s.group == group)
                      and (not needle or needle in s.id or any(needle in d for d in s.domains))]
        count = len(candidates)
        if sort == "site":
            rest = [s for s in candidates if after is None or s.id > after[0]]
            page = rest[:limit]
            numbers = store.read_counters_many(page, now, week_start)
            more = len(rest) > limit
            last = [page[-1].id] if more else None
        else:
            everyone = store.read_counters_many(candidates, now, week_start)
            ranked = sorted(((-sort_value(sort, n), s.id), s, n) for s, n in zip(candidates, everyone))
            if after is not None:
                ranked = [r for r in ranked if r[0] > (-after[0], after[1])]
            more = len(ranked) > limit
            ranked = ranked[:limit]
            page, numbers = [r[1] for r in ranked], [r[2] for r in ranked]
            last = [-ranked[-1][0][0], ranked[-1][0][1]] if more else None
    rows = [{"site": s.id, "domains": list(s.domains), "timezone": s.timezone, "group": s.group or None,
             "online": n["online"], "today": n["today"], "total": n["total"]} for s, n in zip(page, numbers)]
    return {"sites": rows, "count": count, "next": encode_cursor(sort, last) if last else None}


def put_group(store, group: str, timezone: str, label: str) -> bool:
    """Set a group's zone and label; True when it is new."""
    return store.put_group(group, timezone, label)
