"""The Redis model: the only module that talks to Redis (key names come from keys.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import threading
from datetime import date, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from . import keys
from .errors import StorageUnavailable
from .sites import Site

METRICS = ("visits", "pageviews", "visitors")
SHORT = {"visits": "v", "pageviews": "p", "visitors": "u"}
BASELINE_LOG_LENGTH = 100
"""Baseline audit entries kept per site."""


@dataclasses.dataclass(frozen=True)
class Hit:
    """One hit ready to write: who, where, what, and when (the service's clock)."""

    site: str
    visitor: str
    kind: str
    at: datetime
    timezone: str


@dataclasses.dataclass(frozen=True)
class Limits:
    """The counting windows the store applies to every hit."""

    online_window_seconds: int
    visit_timeout_seconds: int
    visitor_hits_per_minute: int


@contextlib.contextmanager
def redis_errors():
    """Turn any Redis failure into StorageUnavailable (503 for a client, a retry for the buffer)."""
    try:
        yield
    except RedisError as exc:
        raise StorageUnavailable() from exc


class CounterStore:
    """Counters, sites, salts and history in Redis."""

    def __init__(self, client: redis.Redis, limits: Limits):
        self.redis = client
        self.limits = limits
        lua = resources.files(__package__).joinpath("lua/record_hits.lua").read_text()
        self._record_hits = client.register_script(lua)
        self._salts: dict[date, bytes] = {}
        self._fallback_salts: dict[date, bytes] = {}
        self._salt_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, limits: Limits, timeout_seconds: float = 0.25) -> CounterStore:
        """Connect lazily to ``url`` with bounded connect and read timeouts."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=30,
            # One immediate retry heals a pooled connection that died with a Redis restart;
            # more would multiply the wait of a hit during an outage.
            retry=Retry(NoBackoff(), 1),
        )
        return cls(client, limits)

    # --- health -------------------------------------------------------------------------

    def ping(self) -> bool:
        """Tell whether Redis answers."""
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    # --- sites --------------------------------------------------------------------------

    def get_site(self, site_id: str) -> Site | None:
        """Read a site's settings, or None when it is not registered."""
        with redis_errors():
            raw = self.redis.hgetall(keys.config(site_id))
        if not raw:
            return None
        return Site(site_id, tuple(json.loads(raw[b"domains"])), raw[b"timezone"].decode())

    def put_site(self, site: Site) -> bool:
        """Create or replace a site's settings; True when it was created."""
        with redis_errors():
            created = not self.redis.exists(keys.config(site.id))
            self.redis.hset(keys.config(site.id), mapping={
                "domains": json.dumps(list(site.domains)), "timezone": site.timezone})
            self.redis.sadd(keys.SITES, site.id)
        return created

    def delete_site(self, site_id: str, purge: bool = False) -> bool:
        """Remove a site's settings (and with ``purge`` all its data); False when unknown."""
        with redis_errors():
            existed = bool(self.redis.delete(keys.config(site_id)))
            self.redis.srem(keys.SITES, site_id)
            if purge:
                pattern = keys.site_prefix(site_id).replace("{", "\\{").replace("}", "\\}") + ":*"
                batch = []
                for key in self.redis.scan_iter(match=pattern, count=500):
                    batch.append(key)
                    if len(batch) >= 500:
                        self.redis.delete(*batch)
                        batch.clear()
                if batch:
                    self.redis.delete(*batch)
        return existed

    def list_sites(self) -> list[str]:
        with redis_errors():
            return sorted(s.decode() for s in self.redis.smembers(keys.SITES))

    # --- salts --------------------------------------------------------------------------

    def salt(self, day: date, now: datetime) -> bytes:
        """The secret salt of a local day, shared by every worker through Redis.

        Tomorrow's salt is created along with today's, so a Redis outage across midnight
        finds it cached. With Redis away and no salt cached, a process-local salt stands in
        (visits of that outage may then count a little high) rather than losing the hit.
        """
        salt = self._salts.get(day)
        if salt is not None:
            return salt
        with self._salt_lock:
            try:
                pipe = self.redis.pipeline(transaction=False)
                for d in (day, day + timedelta(days=1)):
                    lifetime = max(60, keys.salt_deadline_any_zone(d) - int(now.timestamp()))
                    pipe.set(keys.salt(d), secrets.token_bytes(32), nx=True, ex=lifetime)
                    pipe.get(keys.salt(d))
                _, today, _, tomorrow = pipe.execute()
            except RedisError:
                return self._fallback_salts.setdefault(day, secrets.token_bytes(32))
            self._salts = {d: s for d, s in self._salts.items() if d >= day - timedelta(days=2)}
            self._salts[day], self._salts[day + timedelta(days=1)] = today, tomorrow
            self._fallback_salts.clear()
        return today

    # --- hits ---------------------------------------------------------------------------

    def record_hits(self, hits: list[Hit], batch_id: str) -> list[str]:
        """Count hits in one round trip, at most once per ``batch_id``; answer each one's outcome.

        Outcomes are those of record_hits.lua, or 'duplicate' for hits of a batch already written.
        """
        by_site: dict[str, list[int]] = {}
        for index, hit in enumerate(hits):
            by_site.setdefault(hit.site, []).append(index)
        limits = self.limits
        shared = (limits.online_window_seconds * 1000, limits.visit_timeout_seconds * 1000,
                  limits.visitor_hits_per_minute, keys.BATCH_MARKER_SECONDS)
        with redis_errors():
            pipe = self.redis.pipeline(transaction=False)
            for site, indexes in by_site.items():
                names, args = [keys.batch_marker(site, batch_id)], list(shared)
                for index in indexes:
                    hit = hits[index]
                    hit_keys = keys.for_hit(site, hit.visitor, hit.at, ZoneInfo(hit.timezone))
                    names.extend(hit_keys.keys)
                    args.extend((hit.visitor, int(hit.at.timestamp() * 1000), *hit_keys.day_fields,
                                 hit_keys.visitors_ttl_seconds, hit.kind))
                self._record_hits(keys=names, args=args, client=pipe)
            replies = pipe.execute()
        outcomes = [""] * len(hits)
        for indexes, reply in zip(by_site.values(), replies):
            for position, index in enumerate(indexes):
                outcomes[index] = "duplicate" if reply == b"duplicate" else reply[position].decode()
        return outcomes

    # --- reads --------------------------------------------------------------------------

    def read_counters(self, site: Site, now: datetime, week_start: int) -> dict:
        """Online, today, week and total numbers of a site, in one round trip."""
        tz = site.tz
        today = keys.local_day(now, tz)
        week = keys.week_days(today, week_start)
        now_ms = int(now.timestamp() * 1000)
        with redis_errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.zcount(keys.online(site.id), now_ms - self.limits.online_window_seconds * 1000, "+inf")
            self._queue_days(pipe, site.id, week)
            pipe.hmget(keys.total(site.id), METRICS)
            pipe.hmget(keys.baseline(site.id), METRICS)
            results = pipe.execute()
        online, *day_rows, total, base = results
        days = self._merge_days(week, day_rows)
        return {
            "online": int(online),
            "today": days[today],
            "week": {m: sum(days[d][m] for d in week) for m in METRICS},
            "total": {m: _int(total[i]) + _int(base[i]) for i, m in enumerate(METRICS)},
        }

    def history(self, site: Site, days: list[date]) -> list[dict]:
        """One row per local day, oldest first."""
        with redis_errors():
            pipe = self.redis.pipeline(transaction=False)
            self._queue_days(pipe, site.id, days)
            rows = pipe.execute()
        merged = self._merge_days(days, rows)
        return [{"date": d.isoformat(), **merged[d]} for d in days]

    @staticmethod
    def _queue_days(pipe, site_id: str, days: list[date]) -> None:
        """Queue one HMGET per month hash covering ``days``."""
        for month_days in _by_month(days):
            fields = [keys.day_field(d, SHORT[m]) for d in month_days for m in METRICS]
            pipe.hmget(keys.history(site_id, month_days[0]), fields)

    @staticmethod
    def _merge_days(days: list[date], rows: list) -> dict[date, dict]:
        merged = {}
        for month_days, values in zip(_by_month(days), rows):
            values = iter(values)
            for d in month_days:
                merged[d] = {m: _int(next(values)) for m in METRICS}
        return merged

    # --- baseline -----------------------------------------------------------------------

    def set_baseline(self, site_id: str, values: dict[str, int], audit: dict) -> dict[str, int]:
        """Replace a site's imported baseline (idempotent) and log who set it, when and why."""
        mapping = {m: int(values.get(m, 0)) for m in METRICS}
        with redis_errors():
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(keys.baseline(site_id), mapping=mapping)
            pipe.lpush(keys.baseline_log(site_id), json.dumps({**audit, **mapping}, sort_keys=True))
            pipe.ltrim(keys.baseline_log(site_id), 0, BASELINE_LOG_LENGTH - 1)
            pipe.execute()
        return mapping

    def get_baseline(self, site_id: str) -> tuple[dict[str, int], list[dict]]:
        """The current baseline and its audit trail, newest first."""
        with redis_errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.hmget(keys.baseline(site_id), METRICS)
            pipe.lrange(keys.baseline_log(site_id), 0, -1)
            current, log = pipe.execute()
        return {m: _int(v) for m, v in zip(METRICS, current)}, [json.loads(e) for e in log]


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
