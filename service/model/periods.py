"""Local days and periods: which calendar days a period covers in a site's zone (pure functions)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

PERIODS = ("today", "yesterday", "week", "month", "all")
"""Periods of a most-read list."""
DETAIL_PERIODS = ("today", "yesterday", "week", "month", "7d", "30d", "90d", "365d")
"""Periods of the sources and devices breakdowns ('Nd': the last N local days, today included)."""


def local_day(now: datetime, tz: ZoneInfo) -> date:
    """The calendar date in ``tz`` at instant ``now`` (an aware datetime)."""
    return now.astimezone(tz).date()


def day_end(day: date, tz: tzinfo) -> datetime:
    """The instant the local ``day`` ends (next local midnight), DST-aware."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)


def week_days(day: date, week_start: int) -> list[date]:
    """The days of ``day``'s week up to and including ``day`` (week starts on ``week_start``)."""
    first = day - timedelta(days=(day.weekday() - week_start) % 7)
    return [first + timedelta(days=n) for n in range((day - first).days + 1)]


def month_days(day: date) -> list[date]:
    """The days of ``day``'s calendar month up to and including ``day``."""
    return [day.replace(day=n) for n in range(1, day.day + 1)]


def days_back(today: date, count: int) -> list[date]:
    """``count`` local days ending today, oldest first."""
    return [today - timedelta(days=n) for n in range(count - 1, -1, -1)]


def period_days(period: str, today: date, week_start: int) -> list[date]:
    """The local days of a period that ends today (all but 'all')."""
    if period == "today":
        return [today]
    if period == "yesterday":
        return [today - timedelta(days=1)]
    if period == "week":
        return week_days(today, week_start)
    if period == "month":
        return month_days(today)
    if period in ("7d", "30d", "90d", "365d"):
        return days_back(today, int(period[:-1]))
    raise ValueError(f"unknown period {period!r}")
