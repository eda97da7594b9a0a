"""What the admin API and the CLI both do: one function per admin operation, audit records included.

The API and the CLI only turn their input (JSON, CSV upload, options) into these calls and
their answers into JSON or lines, so both leave the same audit trail and read the same days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .errors import Conflict, UnknownSite
from .model import page_baseline, tokens
from .model.page_baseline import ImportReport
from .model.sites import Site

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
