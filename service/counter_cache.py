"""Counters answers served from a short cache, and the last known numbers when Redis is away."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .ops import metrics
from .caches import ReadThrough, TtlCache
from .model.sites import Site
from .storage import CounterStore


UNKNOWN_GROUPS_KEPT = 4096
"""Unknown group ids remembered per process (each answered 404 without a Redis read while fresh)."""


class NoSuchGroup(Exception):
    """A group id with no settings and no member site (raised inside a cache load, never cached there)."""


class CounterCache:
    """Read a site's counters at most once per cache lifetime per process."""

    def __init__(self, store: CounterStore, ttl_seconds: float, week_start: int, max_bytes: int = 16 * 1024 * 1024):
        self.store = store
        self.week_start = week_start
        self.cache: ReadThrough[dict] = ReadThrough(
            ttl_seconds, lambda result: metrics.COUNTERS_CACHE.labels(result=result).inc(), max_bytes=max_bytes)
        self.unknown_groups: TtlCache[bool] = TtlCache(max(ttl_seconds, 1.0), max_entries=UNKNOWN_GROUPS_KEPT)
        """Group ids found to be no group, apart: ids an anonymous poller invents never push real answers out."""

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

    def forget_group(self, group: str) -> None:
        """Read a group afresh next time (its settings changed, or it was just made)."""
        self.cache.forget(("group", group))
        self.unknown_groups.pop(group)

    def read_group(self, group: str, default_zone: str, now: datetime) -> tuple[dict, bool]:
        """A group's numbers (storage/groups.py), its zone and member count, and whether they are stale,
        cached like a site's; an unknown group (``{"unknown": true}``) too, in a cache of its own, so
        polling one costs no more and inventing many evicts only other invented ones."""
        if self.unknown_groups.get(group):
            return {"unknown": True}, False

        def load() -> dict:
            settings, members = self.store.get_group(group)
            if settings is None and not members:
                raise NoSuchGroup
            zone = (settings or {}).get("timezone") or default_zone
            numbers = self.store.read_group_counters(group, zone, members, now, self.week_start)
            numbers.update(timezone=zone, sites=len(members),
                           as_of=now.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds"))
            return numbers
        try:
            return self.cache.read(("group", group), load)
        except NoSuchGroup:
            self.unknown_groups.put(group, True)
            return {"unknown": True}, False
