"""Reads: counters, page views, most-read lists, history and the not-counted tally, one round trip each."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

from ..model import periods
from ..model.sites import Site
from . import keys
from .replies import redis_errors
from .scripts import script_source

METRICS = ("visits", "pageviews", "visitors")
SHORT = {"visits": "v", "pageviews": "p", "visitors": "u"}


class ReadsMixin:
    """What widgets, the API and the dashboard read."""

    def _init_reads(self) -> None:
        # Rare calls: redis-py's Script retries with the source itself after a NOSCRIPT.
        self._top_pages = self.redis.register_script(script_source("top_pages.lua"))

    def read_counters(self, site: Site, now: datetime, week_start: int) -> dict:
        """Online, today, yesterday, week, month and total numbers of a site, in one round trip."""
        return self.read_counters_many([site], now, week_start)[0]

    def read_counters_many(self, sites: list[Site], now: datetime, week_start: int) -> list[dict]:
        """The counters of every site in ``sites``, in one round trip whatever their number."""
        if not sites:
            return []
        with redis_errors("counters", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            readers = [self._queue_counters(pipe, site, now, week_start) for site in sites]
            results = pipe.execute()
        return _split(readers, results)

    def _queue_counters(self, pipe, site: Site, now: datetime, week_start: int):
        """Queue one site's counters reads; answer (commands queued, the function that reads their replies)."""
        today = periods.local_day(now, site.tz)
        yesterday = today - timedelta(days=1)
        week = periods.week_days(today, week_start)
        month = periods.month_days(today)
        days = sorted({yesterday, *week, *month})
        now_ms = int(now.timestamp() * 1000)
        pipe.zcount(keys.online(site.id), now_ms - self.limits.online_window_seconds * 1000, "+inf")
        queued = 3 + self._queue_days(pipe, site.id, days)
        pipe.hmget(keys.total(site.id), METRICS)
        pipe.hmget(keys.baseline(site.id), METRICS)

        def read(results: list) -> dict:
            online, *day_rows, total, base = results
            numbers = self._merge_days(days, day_rows)
            return {
                "online": int(online),
                "today": numbers[today],
                "yesterday": numbers[yesterday],
                "week": {m: sum(numbers[d][m] for d in week) for m in METRICS},
                "month": {m: sum(numbers[d][m] for d in month) for m in METRICS},
                "total": {m: _int(total[i]) + _int(base[i]) for i, m in enumerate(METRICS)},
            }
        return queued, read

    def read_pages(self, site: Site, pages: list[str], now: datetime) -> list[dict]:
        """Today's and all-time views (baseline included) of normalized ``pages``, in one round trip."""
        today = periods.local_day(now, site.tz)
        with redis_errors("pages", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            for page in pages:
                pipe.zscore(keys.pages_day(site.id, today), page)
                pipe.zscore(keys.pages_all(site.id), page)
            scores = pipe.execute()
        return [{"path": page, "views": {"today": int(scores[2 * i] or 0), "total": int(scores[2 * i + 1] or 0)}}
                for i, page in enumerate(pages)]

    def top_pages(self, site: Site, period: str, limit: int, now: datetime, week_start: int) -> list[dict]:
        """The ``limit`` most viewed pages of a period, with titles, most viewed first."""
        today = periods.local_day(now, site.tz)
        if period == "all":
            return self._top_of_sets(site, [keys.pages_all(site.id)], limit)
        return self.top_pages_of_days(site, periods.period_days(period, today, week_start), limit)

    def _top_of_sets(self, site: Site, sets: list[str], limit: int) -> list[dict]:
        """The most viewed pages of these page-views sets summed, with titles and links (one round trip)."""
        with redis_errors("pages", self.log_reply_error):
            flat = self._top_pages(keys=[keys.page_titles(site.id), keys.page_links(site.id), *sets], args=[limit])
        return [{"path": flat[i].decode(), "title": flat[i + 2].decode() or None, "views": int(float(flat[i + 1])),
                 "link": flat[i + 3].decode() or flat[i].decode()} for i in range(0, len(flat), 4)]


    def history(self, site: Site, days: list[date]) -> list[dict]:
        """One row per local day, oldest first."""
        return self.history_many([(site, days)])[0]

    def history_many(self, wanted: list[tuple[Site, list[date]]]) -> list[list[dict]]:
        """History rows of many (site, days) pairs, in one round trip whatever their number."""
        if not wanted:
            return []
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            readers = []
            for site, days in wanted:
                readers.append((self._queue_days(pipe, site.id, days), functools.partial(self._rows, days)))
            results = pipe.execute()
        return _split(readers, results)

    @staticmethod
    def _queue_days(pipe, site_id: str, days: list[date], history=keys.history) -> int:
        """Queue one HMGET per month hash covering ``days`` (a site's, or ``history``'s); answer how many."""
        months = _by_month(days)
        for month_days in months:
            fields = [keys.day_field(d, SHORT[m]) for d in month_days for m in METRICS]
            pipe.hmget(history(site_id, month_days[0]), fields)
        return len(months)

    @classmethod
    def _rows(cls, days: list[date], replies: list) -> list[dict]:
        merged = cls._merge_days(days, replies)
        return [{"date": d.isoformat(), **merged[d]} for d in days]

    @staticmethod
    def _merge_days(days: list[date], rows: list) -> dict[date, dict]:
        merged = {}
        for month_days, values in zip(_by_month(days), rows):
            values = iter(values)
            for d in month_days:
                merged[d] = {m: _int(next(values)) for m in METRICS}
        return merged

    def top_pages_of_days(self, site: Site, days: list[date], limit: int) -> list[dict]:
        """The ``limit`` most viewed pages summed over local ``days`` (each within PAGE_DAYS_KEPT), with titles."""
        return self._top_of_sets(site, [keys.pages_day(site.id, d) for d in days], limit)


    def not_counted(self, site: Site, days: list[date]) -> list[dict]:
        """Per local day, the hits not counted and why, oldest first (reasons with none are left out)."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            for day in days:
                pipe.hgetall(keys.not_counted(site.id, day))
            rows = pipe.execute()
        return [{"date": day.isoformat(), **{k.decode(): int(v) for k, v in sorted(row.items())}}
                for day, row in zip(days, rows)]



def _int(value) -> int:
    return int(value) if value is not None else 0


def _by_month(days: list[date]) -> list[list[date]]:
    """Group consecutive days by calendar month, keeping order."""
    groups: list[list[date]] = []
    for d in days:
        if groups and (groups[-1][0].year, groups[-1][0].month) == (d.year, d.month):
            groups[-1].append(d)
        else:
            groups.append([d])
    return groups


def _split(readers: list, results: list) -> list:
    """Hand each reader (commands queued, read function) its share of a pipeline's replies."""
    answers, position = [], 0
    for queued, read in readers:
        answers.append(read(results[position:position + queued]))
        position += queued
    return answers
