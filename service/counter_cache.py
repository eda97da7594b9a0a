"""Counters answers served from a short cache, and the last known numbers when Redis is away."""

from __future__ import annotations

import threading
from datetime import datetime

from . import metrics
from .caches import TtlCache
from .errors import StorageUnavailable
from .sites import Site
from .store import CounterStore


class CounterCache:
    """Read a site's counters at most once per cache lifetime per process."""

    def __init__(self, store: CounterStore, ttl_seconds: float, week_start: int):
        self.store = store
        self.week_start = week_start
        self.numbers: TtlCache[dict] = TtlCache(ttl_seconds)  # stale entries: the last known
        self._loading: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def forget(self, site_id: str) -> None:
        """Read a site's numbers afresh next time (after a baseline or settings change)."""
        self.numbers.expire(site_id)

    def read(self, site: Site, now: datetime) -> tuple[dict, bool]:
        """The site's numbers and whether they are stale (Redis unreachable)."""
        numbers = self.numbers.get(site.id)
        if numbers is not None:
            metrics.COUNTERS_CACHE.labels(result="hit").inc()
            return numbers, False
        # One reader per site refreshes; concurrent pollers in this process wait for it.
        with self._guard:
            lock = self._loading.setdefault(site.id, threading.Lock())
        with lock:
            numbers = self.numbers.get(site.id)
            if numbers is not None:
                return numbers, False
            try:
                numbers = self.store.read_counters(site, now, self.week_start)
                numbers["as_of"] = now.astimezone(site.tz).isoformat(timespec="seconds")
            except StorageUnavailable:
                numbers = self.numbers.get_stale(site.id)
                if numbers is None:
                    raise
                metrics.COUNTERS_CACHE.labels(result="stale").inc()
                return numbers, True
            metrics.COUNTERS_CACHE.labels(result="miss").inc()
            self.numbers.put(site.id, numbers)
            return numbers, False
