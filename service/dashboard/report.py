"""The numbers of the dashboard's screens, read from the store (each period with the one before it)."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from ..model import breakdowns
from ..model.periods import days_back, local_day, month_days, period_days, week_days
from ..storage import METRICS
from . import charts

RANGES = (30, 90, 365)
"""Days the chart may show."""
TOP_PERIODS = {"today": 1, "7d": 7, "30d": 30}
"""The site screen's most-read lists: local days ending today."""
TOP_LIMIT = 10
DETAIL_CHOICES = ("today", "7d", "30d", "90d", "365d")
"""Periods the sources and devices panels link to (any of DETAIL_PERIODS is read)."""
DETAIL_DEFAULT = "30d"
SOURCES_SHOWN = 10
"""Named sources in the site screen's table (the CSV has them all)."""
LIST_SHOWN = 8
"""Rows of a device, browser, OS or app list; the rest are summed in one row."""
DEVICE_LISTS = ("devices", "browsers", "os", "apps")
"""The devices answer's lists, in the screen's and the CSV's order."""
NOT_COUNTED_DAYS = 14
NOT_COUNTED_REASONS = ("bot", "prefetch", "foreign_domain", "rate_limited", "ip_limited", "no_user_agent",
                       "user_agent_too_long")


def same_days_last_month(days: list[date]) -> list[date]:
    """The days of the month before with the same numbers (a shorter month stops at its end)."""
    first = days[0].replace(day=1) - timedelta(days=1)
    last = calendar.monthrange(first.year, first.month)[1]
    return sorted({first.replace(day=min(d.day, last)) for d in days})


def periods(today: date, week_start: int) -> dict[str, tuple[list[date], list[date] | None, str | None]]:
    """Each headline period: (its days, the previous equal period's days, the words of the comparison)."""
    yesterday = today - timedelta(days=1)
    week = week_days(today, week_start)
    month = month_days(today)
    return {
        "today": ([today], [yesterday], "vs_yesterday"),
        "yesterday": ([yesterday], [yesterday - timedelta(days=1)], "vs_day_before"),
        "week": (week, [d - timedelta(days=7) for d in week], "vs_last_week"),
        "month": (month, same_days_last_month(month), "vs_last_month"),
    }


def summed(rows: dict[date, dict], days: list[date]) -> dict[str, int]:
    return {m: sum(rows[d][m] for d in days) for m in METRICS}


def headline(store, site, now: datetime, week_start: int) -> dict:
    """Online now, and today, yesterday, week, month (each with its previous period) and all time."""
    today = local_day(now, site.tz)
    spans = periods(today, week_start)
    needed = sorted({d for days, before, _ in spans.values() for d in (*days, *before)})
    rows = {date.fromisoformat(r["date"]): r for r in store.history(site, needed)}
    counters = store.read_counters(site, now, week_start)
    cards = []
    for name, (days, before, words) in spans.items():
        cards.append({"name": name, "numbers": summed(rows, days), "before": summed(rows, before), "vs": words})
    cards.append({"name": "total", "numbers": counters["total"], "before": None, "vs": None})
    return {"online": counters["online"], "today": today, "cards": cards}


def daily(store, site, today: date, count: int) -> list[dict]:
    """The history API's rows for ``count`` days ending today."""
    return store.history(site, days_back(today, count))


def top_lists(store, site, today: date) -> dict[str, list[dict]]:
    return {name: store.top_pages_of_days(site, days_back(today, n), TOP_LIMIT) for name, n in TOP_PERIODS.items()}


def not_counted(store, site, today: date) -> list[dict]:
    """Per day, the hits not counted and why (CounterStore.not_counted), reasons it does not name summed as 'other'."""
    rows = store.not_counted(site, days_back(today, NOT_COUNTED_DAYS))
    return [{"date": r["date"], "day": date.fromisoformat(r["date"]), **{k: int(r.get(k, 0)) for k in NOT_COUNTED_REASONS},
             "other": sum(int(v) for k, v in r.items() if k not in ("date", "day") and k not in NOT_COUNTED_REASONS)}
            for r in rows]


def site_rows(store, sites: list, now: datetime, week_start: int) -> list[dict]:
    """The operator's table: one row per site with online, today, week, total and 30 days of visits.

    Two round trips whatever the number of sites: every site's counters, then every trend.
    """
    counters = store.read_counters_many(sites, now, week_start)
    trends = store.history_many([(site, days_back(local_day(now, site.tz), 30)) for site in sites])
    return [{"site": site.id, "online": c["online"], "today": c["today"]["visits"], "week": c["week"]["visits"],
             "total": c["total"]["visits"], "trend": [r["visits"] for r in trend]}
            for site, c, trend in zip(sites, counters, trends)]


def overview(store, sites: list, now: datetime, week_start: int) -> list[dict]:
    """The operator's table: one row per site with its group, online, today, week and total visits.

    One round trip whatever the number of sites (the sites list's trade-off: every site's counters in
    one pipeline, so that totals, search and any order need nothing kept up by the hits).
    """
    counters = store.read_counters_many(sites, now, week_start)
    return [{"site": site.id, "group": site.group, "domains": site.domains, "timezone": site.timezone,
             "online": c["online"], "today": c["today"]["visits"], "week": c["week"]["visits"],
             "total": c["total"]["visits"]} for site, c in zip(sites, counters)]


def add_trends(store, rows: list[dict], sites: dict, now: datetime) -> None:
    """Give each row 30 days of visits (``trend``), for the page's rows only: one round trip."""
    trends = store.history_many([(sites[r["site"]], days_back(local_day(now, sites[r["site"]].tz), 30)) for r in rows])
    for row, trend in zip(rows, trends):
        row["trend"] = [r["visits"] for r in trend]


def sums(rows: list[dict], columns) -> dict[str, int]:
    return {col: sum(r[col] for r in rows) for col in columns}


def shown_list(rows: list[dict], limit: int = LIST_SHOWN) -> tuple[list[dict], dict | None]:
    """The first ``limit`` rows, and the rest summed (``{"count", "visits"}``), or None when nothing is left."""
    rest = rows[limit:]
    return rows[:limit], ({"count": len(rest), "visits": sum(r["visits"] for r in rest)} if rest else None)


def detail(store, site, today: date, period: str, week_start: int) -> dict:
    """Sources and devices of a period for the site screen, from one read of the day hashes (one round trip)."""
    days = period_days(period, today, week_start)
    sums = store.read_breakdowns(site, days)
    sources = breakdowns.sources_answer(sums, SOURCES_SHOWN)
    devices = breakdowns.devices_answer(sums)
    visits = sources["visits"]
    for source in sources["sources"]:
        source["initials"] = "…" if source["name"] == "(other)" else charts.initials(source["name"])
        source["tone"] = charts.tone(source["name"])
        source["width"] = charts.share_width(source["visits"], visits)
    lists = {}
    for name in DEVICE_LISTS:
        rows, rest = shown_list(devices[name])
        lists[name] = {"rows": [{**r, "width": charts.share_width(r["visits"], visits)} for r in rows],
                       "rest": rest and {**rest, "width": charts.share_width(rest["visits"], visits)}}
    return {"period": period, "first": days[0], "last": days[-1], "visits": visits,
            "channels": sources["channels"], "sources": sources["sources"], "lists": lists,
            "chart": charts.bar_chart([(c["channel"], c["visits"]) for c in sources["channels"]], visits)}


def source_rows(sums: dict) -> list[list]:
    """Every (channel, source, visits) of a period, the unnamed (direct) ones with an empty source: the
    sources API's order (most visits, then name, then channel); summed by channel, the API's channels."""
    rows = [(*field.partition("|")[::2], visits) for field, visits in sums["sources"].items()]
    return [[channel, name, visits] for channel, name, visits in sorted(rows, key=lambda r: (-r[2], r[1], r[0]))]


def device_rows(sums: dict) -> list[list]:
    """Every (dimension, name, visits) of the devices API's lists, in its order."""
    answer = breakdowns.devices_answer(sums)
    return [[name, row["name"], row["visits"]] for name in DEVICE_LISTS for row in answer[name]]
