"""What the admin API and the CLI both do: one function per admin operation, audit records included.

The API and the CLI only turn their input (JSON, CSV upload, options) into these calls and
their answers into JSON or lines, so both leave the same audit trail and read the same days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .model import page_baseline
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
