"""Counters answers served from a short cache, and the last known numbers when Redis is away."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .ops import metrics
from .caches import ReadThrough
from .model.sites import Site
from .storage import CounterStore


class CounterCache:
    """Read a site's counters at most once per cache lifetime per process."""

    def __init__(self, store: CounterStore, ttl_seconds: float, week_start: int, max_bytes: int = 16 * 1024 * 1024):
        self.store = store
        self.week_start = week_start
        self.cache: ReadThrough[dict] = ReadThrough(
            ttl_seconds, lambda result: metrics.COUNTERS_CACHE.labels(result=result).inc(), max_bytes=max_bytes)

    def forget(self, site_id: str) -> None:
        """Read a site's numbers afresh next time (after a baseline or settings change)."""
        self.cache.forget(site_id)

    def read(self, site: Site, now: datetime) -> tuple[dict, bool]:
        """The site's numbers and whether they are stale (Redis unreachable)."""
        def load() -> dict:
            numbers = self.store.read_counters(site, now, self.week_start)
            numbers["as_of"] = now.astimezone(site.tz).isoformat(timespec="seconds")
            return numbers
        return self.cache.read(site.id, load)

    def read_group(self, group: str, default_zone: str, now: datetime) -> tuple[dict, bool]:
        """A group's numbers (storage/groups.py), its zone and member count, and whether they are stale,
        cached like a site's (an unknown group too: ``{"unknown": true}``, so polling it costs no more)."""
        def load() -> dict:
            settings, members = self.store.get_group(group)
            if settings is None and not members:
                return {"unknown": True}
            zone = (settings or {}).get("timezone") or default_zone
            numbers = self.store.read_group_counters(group, zone, members, now, self.week_start)
            numbers.update(timezone=zone, sites=len(members),
                           as_of=now.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds"))
            return numbers
        return self.cache.read(("group", group), load)
