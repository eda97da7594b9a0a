"""The Redis model: the only module that talks to Redis (key names come from keys.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import secrets
import threading
import time
from datetime import date, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import msgpack
import redis
from redis.backoff import NoBackoff
from redis.exceptions import (AuthenticationError, AuthorizationError, ClusterDownError, ConnectionError,
                              NoPermissionError, NoScriptError, OutOfMemoryError, ReadOnlyError, RedisError,
                              ResponseError, TimeoutError, TryAgainError)
from redis.retry import Retry

from . import keys, metrics
from .errors import RedisReplyError, StorageUnavailable
from .hits import Hit, Outcome
from .sites import Site

METRICS = ("visits", "pageviews", "visitors")
SHORT = {"visits": "v", "pageviews": "p", "visitors": "u"}
SALT_RETRY_SECONDS = 5.0
"""With Redis away and a process-local salt standing in, ask Redis again after this long."""
SALT_CHECK_SECONDS = 5.0
"""A cached salt is compared with Redis's this often: a Redis restarted empty gets it back (or a
second worker's salt is adopted), so one visitor stays one visitor."""
BASELINE_LOG_LENGTH = 100
"""Baseline audit entries kept per site."""
REPLIED = {outcome.value.encode(): outcome for outcome in Outcome}
"""An outcome as record_hits.lua answers it (bytes) -> the Outcome."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """The counting windows the store applies to every hit."""

    online_window_seconds: int
    visit_timeout_seconds: int
    visitor_hits_per_minute: int
    address_hits_per_minute: int = 0
    pages_per_day: int = 50_000


@dataclasses.dataclass(frozen=True)
class Durability:
    """What the Redis we talk to does with our keys under memory pressure and on restart."""

    maxmemory_policy: str | None
    appendonly: bool | None
    warnings: list[str]
    errors: list[str]

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


MIN_VERSIONS = {"Redis": (7, 0, 0), "Valkey": (7, 2, 0)}
"""Oldest servers whose commands the scripts use (EXPIRE NX, script shebang flags: Redis 7.0)."""
ERROR_LOG_SECONDS = 60.0
"""An error reply of one kind is logged at ERROR at most this often per process."""

log = logging.getLogger(__name__)


def classify(exc: RedisError) -> str:
    """The kind of a Redis failure: 'unavailable' (an outage) or an error reply's kind."""
    if isinstance(exc, OutOfMemoryError):
        return "oom"
    if isinstance(exc, ReadOnlyError):
        return "readonly"
    if isinstance(exc, (AuthenticationError, AuthorizationError, NoPermissionError)):
        return "auth"
    if isinstance(exc, (ConnectionError, TimeoutError, ClusterDownError, TryAgainError)):
        return "unavailable"  # lost connection, timeout, LOADING, a cluster mid-failover
    message = reply_message(exc)
    for prefix, kind in (("OOM", "oom"), ("READONLY", "readonly"), ("NOAUTH", "auth"),
                         ("WRONGPASS", "auth"), ("NOPERM", "auth")):
        if message.startswith(prefix):
            return kind
    return "other"


def reply_message(exc: Exception) -> str:
    """Redis's own words, without redis-py's pipeline preamble (which quotes our arguments)."""
    message = str(exc.args[0]) if exc.args else str(exc)
    return message.rpartition("caused error: ")[2][:500]


class ErrorLog:
    """ERROR lines for error replies with Redis's message, at most once a minute per kind (an OOM lasts)."""

    def __init__(self):
        self._last: dict[str, float] = {}

    def __call__(self, kind: str, operation: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -ERROR_LOG_SECONDS) >= ERROR_LOG_SECONDS:
            self._last[kind] = now
            log.error("Redis answered %s with an error (%s): %s", operation, kind, message)


@contextlib.contextmanager
def redis_errors(operation: str, log_reply_error: ErrorLog):
    """Time a Redis round trip; an outage raises StorageUnavailable, an error reply RedisReplyError."""
    started = time.perf_counter()
    try:
        yield
    except RedisError as exc:
        kind = classify(exc)
        metrics.REDIS_ERRORS.labels(operation=operation, kind=kind).inc()
        if kind == "unavailable":
            raise StorageUnavailable() from exc
        log_reply_error(kind, operation, reply_message(exc))
        raise RedisReplyError(kind, reply_message(exc)) from exc
    metrics.REDIS_SECONDS.labels(operation=operation).observe(time.perf_counter() - started)


@dataclasses.dataclass(frozen=True)
class Server:
    """What one Redis node says of itself, for the start-up and /readyz checks."""

    node: str
    product: str
    version: str
    role: str
    used_memory: int
    maxmemory: int

    @classmethod
    def from_info(cls, node: str, info: dict) -> Server:
        product = "Valkey" if "valkey_version" in info else "Redis"
        version = str(info.get("valkey_version") or info.get("redis_version") or "0")
        return cls(node, product, version, str(info.get("role", "master")),
                   int(info.get("used_memory", 0)), int(info.get("maxmemory", 0)))

    @property
    def problem(self) -> tuple[str, str] | None:
        """(kind, message) when this node cannot count hits now, else None."""
        need = MIN_VERSIONS[self.product]
        if _version_tuple(self.version) < need:
            return "unsupported_version", (f"{self.product} {self.version} at {self.node} is too old: "
                                           f"visitor-analytics needs {self.product} {'.'.join(map(str, need))} "
                                           "or newer (Redis >= 7.0 or Valkey >= 7.2)")
        if self.role not in ("master", "primary"):
            return "readonly", f"{self.node} is a read-only replica"
        if self.maxmemory and self.used_memory >= self.maxmemory:
            return "oom", f"{self.node} is out of memory ({self.used_memory} of maxmemory {self.maxmemory} bytes)"
        return None


class CounterStore:
    """Counters, sites, salts and history in Redis."""

    def __init__(self, client: redis.Redis, limits: Limits):
        self.redis = client
        self.limits = limits
        self._lua = _script("record_hits.lua")
        self._sha = hashlib.sha1(self._lua.encode()).hexdigest()
        # Rare calls: redis-py's Script retries with the source itself after a NOSCRIPT.
        self._top_pages = client.register_script(_script("top_pages.lua"))
        self._set_page_baselines = client.register_script(_script("set_page_baselines.lua"))
        self._salts: dict[date, tuple[bytes, float]] = {}  # day -> (salt, unix s last compared with Redis)
        self._fallback_salts: dict[date, tuple[bytes, float]] = {}  # day -> (salt, when Redis failed)
        self._salt_lock = threading.Lock()
        self.is_cluster = isinstance(client, redis.RedisCluster)
        self.log_reply_error = ErrorLog()
        self.pages_over_cap: dict[str, date] = {}
        """Sites whose distinct pages passed PAGES_PER_DAY, and the last local day they did."""

    @classmethod
    def from_settings(cls, settings, timeout_seconds: float | None = None) -> CounterStore:
        """The store the service's settings describe (``timeout_seconds`` overrides theirs)."""
        limits = Limits(
            online_window_seconds=settings.ONLINE_WINDOW_SECONDS,
            visit_timeout_seconds=settings.VISIT_TIMEOUT_SECONDS,
            visitor_hits_per_minute=settings.VISITOR_HITS_PER_MINUTE,
            address_hits_per_minute=settings.IP_HITS_PER_MINUTE,
            pages_per_day=settings.PAGES_PER_DAY,
        )
        return cls.from_url(settings.REDIS_URL, limits, timeout_seconds or settings.REDIS_TIMEOUT_SECONDS)

    @classmethod
    def from_url(cls, url: str, limits: Limits, timeout_seconds: float = 0.25) -> CounterStore:
        """Connect lazily to ``url`` with bounded connect and read timeouts.

        ``redis://``, ``rediss://``, ``unix://``: one Redis.
        ``redis+cluster://host:port[,host:port...]``: Redis Cluster (nodes are discovered).
        ``redis+sentinel://host:port[,host:port...]/<master name>[/<db>]``: the master that
        Sentinel names, followed through failovers.
        """
        return cls(connect(url, timeout_seconds), limits)

    # --- health -------------------------------------------------------------------------

    def ping(self) -> bool:
        """Tell whether Redis answers."""
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    def servers(self) -> list[Server]:
        """INFO of every node (every node of a Cluster), or StorageUnavailable."""
        with redis_errors("info", self.log_reply_error):
            if self.is_cluster:
                found = self.redis.info(target_nodes=redis.RedisCluster.ALL_NODES)
                return [Server.from_info(node, info) for node, info in found.items()]
            return [Server.from_info("redis", self.redis.info())]

    def server_problems(self) -> list[tuple[str, str]]:
        """(kind, message) of every reason the Redis we talk to cannot count hits now."""
        return [server.problem for server in self.servers() if server.problem]

    def durability(self) -> Durability:
        """Check that Redis will keep the all-time counters: no eviction, persistence on."""
        try:
            config = {}
            for name in ("maxmemory-policy", "appendonly", "save"):
                config.update(self.redis.config_get(name))
        except ResponseError:  # managed Redis often forbids CONFIG
            return Durability(None, None, ["cannot read the Redis configuration (CONFIG is disabled): "
                                           "make sure maxmemory-policy is noeviction and AOF is on"], [])
        except RedisError as exc:
            raise StorageUnavailable() from exc
        policy = _text(config.get("maxmemory-policy"))
        aof, rdb = _text(config.get("appendonly")) == "yes", bool(_text(config.get("save")).strip())
        errors, warnings = [], []
        if policy.startswith("allkeys"):
            errors.append(f"maxmemory-policy is {policy}: under memory pressure Redis deletes all-time "
                          "counters; set maxmemory-policy noeviction")
        elif policy != "noeviction":
            warnings.append(f"maxmemory-policy is {policy}: sessions and presence may be evicted; "
                            "noeviction is safest")
        if not aof:
            warnings.append("AOF persistence is off" + (" (RDB snapshots only: minutes of hits may be lost)"
                                                         if rdb else " and so is RDB: a restart loses every count"))
        return Durability(policy, aof, warnings, errors)

    # --- sites --------------------------------------------------------------------------

    def get_site(self, site_id: str) -> Site | None:
        """Read a site's settings, or None when it is not registered."""
        with redis_errors("site", self.log_reply_error):
            raw = self.redis.hgetall(keys.config(site_id))
        if not raw:
            return None
        return Site(site_id, tuple(json.loads(raw[b"domains"])), raw[b"timezone"].decode(),
                    tuple(json.loads(raw.get(b"page_params", b"[]"))))

    def put_site(self, site: Site) -> bool:
        """Create or replace a site's settings; True when it was created."""
        with redis_errors("site", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.exists(keys.config(site.id))
            pipe.hset(keys.config(site.id), mapping={
                "domains": json.dumps(list(site.domains)), "timezone": site.timezone,
                "page_params": json.dumps(list(site.page_params))})
            pipe.sadd(keys.SITES, site.id)
            existed, _, _ = pipe.execute()
        return not existed

    def delete_site(self, site_id: str, purge: bool = False) -> bool:
        """Remove a site's settings (and with ``purge`` all its data); False when nothing was there."""
        with redis_errors("site", self.log_reply_error):
            existed = bool(self.redis.delete(keys.config(site_id)))
            self.redis.srem(keys.SITES, site_id)
            if purge:
                # Also for a site removed earlier without purge: its numbers are still kept.
                pattern = keys.site_prefix(site_id).replace("{", "\\{").replace("}", "\\}") + ":*"
                batch: list = []
                for key in self.redis.scan_iter(match=pattern, count=500):
                    batch.append(key)
                    if len(batch) >= 500:
                        existed = bool(self.redis.delete(*batch)) or existed
                        batch.clear()
                if batch:
                    existed = bool(self.redis.delete(*batch)) or existed
        return existed

    def list_sites(self) -> list[str]:
        with redis_errors("other", self.log_reply_error):
            return sorted(s.decode() for s in self.redis.smembers(keys.SITES))

    # --- salts --------------------------------------------------------------------------

    def salt(self, day: date, now: datetime) -> bytes:
        """The secret salt of a local day, shared by every worker through Redis.

        Tomorrow's salt is created along with today's, so a Redis outage across midnight
        finds it cached. Every SALT_CHECK_SECONDS the cached salt is compared with Redis's:
        after Redis lost it, this worker's goes back (SET NX), and a salt another worker set
        first is adopted. With Redis away and no salt cached, a process-local salt stands in
        (visits of that outage may then count a little high) rather than losing the hit.
        """
        cached = self._salts.get(day)
        moment = now.timestamp()
        if cached is not None and (moment - cached[1] < SALT_CHECK_SECONDS
                                   or not self._salt_lock.acquire(blocking=False)):
            return cached[0]  # fresh, or another thread is asking Redis right now
        if cached is not None:
            try:
                return self._check_salt(day, now, cached[0])
            finally:
                self._salt_lock.release()
        fallback = self._fallback_salts.get(day)
        if fallback and time.monotonic() - fallback[1] < SALT_RETRY_SECONDS:
            return fallback[0]  # Redis failed moments ago: do not make every hit wait for it again
        with self._salt_lock:
            try:
                pipe = self.redis.pipeline(transaction=False)
                for d in (day, day + timedelta(days=1)):
                    pipe.set(keys.salt(d), secrets.token_bytes(32), nx=True, ex=self._salt_lifetime(d, now))
                    pipe.get(keys.salt(d))
                _, today, _, tomorrow = pipe.execute()
            except RedisError:
                salt = self._fallback_salts.get(day, (secrets.token_bytes(32),))[0]
                self._fallback_salts[day] = (salt, time.monotonic())
                return salt
            self._salts = {d: s for d, s in self._salts.items() if d >= day - timedelta(days=2)}
            self._salts[day], self._salts[day + timedelta(days=1)] = (today, moment), (tomorrow, moment)
            self._fallback_salts.clear()
        return today

    def _check_salt(self, day: date, now: datetime, mine: bytes) -> bytes:
        """Put this worker's salt back if Redis lost it; adopt Redis's when it differs."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(keys.salt(day), mine, nx=True, ex=self._salt_lifetime(day, now))
            pipe.get(keys.salt(day))
            _, found = pipe.execute()
        except RedisError:
            return mine  # Redis away: keep hashing with the salt we know
        if found and found != mine:
            log.warning("Redis holds another salt for %s than this worker (restarted empty?): adopting it", day)
            mine = found
        self._salts[day] = (mine, now.timestamp())
        return mine

    @staticmethod
    def _salt_lifetime(day: date, now: datetime) -> int:
        return max(60, keys.salt_deadline_any_zone(day) - int(now.timestamp()))

    # --- hits ---------------------------------------------------------------------------

    def record_hits(self, hits: list[Hit], batch_id: str, drops: dict | None = None) -> list[Outcome]:
        """Count hits in one round trip, at most once per ``batch_id``; answer each one's outcome.

        One script call per site and local day (a batch may straddle midnight), each under
        its own marker, all in one pipeline. Outcomes are those of record_hits.lua, or 'duplicate' for hits of a
        batch already written.
        """
        groups: dict[tuple[str, str, date], list[int]] = {}
        for index, hit in enumerate(hits):
            groups.setdefault((hit.site, hit.timezone, hit.local_day()), []).append(index)
        limits = self.limits
        shared = (limits.online_window_seconds * 1000, limits.visit_timeout_seconds * 1000,
                  limits.visitor_hits_per_minute, keys.BATCH_MARKER_SECONDS, limits.address_hits_per_minute)
        calls = []
        for number, ((site, zone, day), indexes) in enumerate(groups.items()):
            day_keys = keys.for_day(site, ZoneInfo(zone), day)
            marker = keys.batch_marker(site, f"{batch_id}:{number}")  # a retry groups the same way
            group = [hits[index] for index in indexes]
            at_ms = [int(hit.at.timestamp() * 1000) for hit in group]
            names = [marker, day_keys.config, day_keys.online, day_keys.history, day_keys.visitors, day_keys.total,
                     day_keys.pages, day_keys.pages_before, day_keys.pages_all, day_keys.titles, day_keys.not_counted,
                     day_keys.links, *[day_keys.session(hit.visitor) for hit in group]]
            if limits.address_hits_per_minute:  # the script reads these only to apply that limit
                names += [day_keys.address_minute(hit.client, ms // 60000) for hit, ms in zip(group, at_ms)]
            newest = max(at_ms) // 1000
            args = [*shared, *day_keys.fields, max(60, day_keys.visitors_deadline - newest),
                    limits.pages_per_day, max(60, day_keys.pages_deadline - newest), keys.PAGES_KEPT_PER_PAST_DAY,
                    max(60, day_keys.not_counted_deadline - newest), pack_hits(group, at_ms)]
            calls.append((names, args))
        try:
            with redis_errors("record", self.log_reply_error):
                replies = self._evalsha_all(calls, self._drop_commands(drops or {}, hits))
        except RedisReplyError as exc:
            if exc.kind == "readonly" and not self.is_cluster:
                # A failover demoted this node: new connections find the master again (Sentinel
                # asks for it; a DNS name may point elsewhere by now).
                self.redis.connection_pool.disconnect()
            raise
        outcomes = [""] * len(hits)
        for (site, _, day), indexes, reply in zip(groups, groups.values(), replies):
            if isinstance(reply, bytes):  # 'duplicate': written before; 'unknown_site': removed meanwhile
                for index in indexes:
                    outcomes[index] = REPLIED[reply]
                continue
            per_hit, over_cap = reply
            for position, index in enumerate(indexes):
                outcomes[index] = REPLIED[per_hit[position]]
            if over_cap:
                metrics.PAGES_OVER_CAP.inc(over_cap)
                self.pages_over_cap[site] = day
        return outcomes

    @staticmethod
    def _drop_commands(drops: dict, hits: list[Hit]) -> list[tuple]:
        """HINCRBY/EXPIRE commands counting hits turned away at once, keyed (site, zone, day) -> {reason: n}."""
        if not drops:
            return []  # most batches: no newest hit time to look for
        newest = int(max(h.at.timestamp() for h in hits)) if hits else int(time.time())
        commands = []
        for (site, zone, day), reasons in drops.items():
            key = keys.not_counted(site, day)
            for reason, count in reasons.items():
                commands.append(("HINCRBY", key, str(reason), count))
            commands.append(("EXPIRE", key, max(60, keys.not_counted_deadline(day, ZoneInfo(zone)) - newest), "NX"))
        return commands

    def record_drops(self, drops: dict) -> None:
        """Count hits turned away at once (bots, prefetches, other domains...) per site and day."""
        commands = self._drop_commands(drops, [])
        if commands:
            with redis_errors("record", self.log_reply_error):
                self._evalsha_all([], commands)

    def not_counted(self, site: Site, days: list[date]) -> list[dict]:
        """Per local day, the hits not counted and why, oldest first (reasons with none are left out)."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            for day in days:
                pipe.hgetall(keys.not_counted(site.id, day))
            rows = pipe.execute()
        return [{"date": day.isoformat(), **{k.decode(): int(v) for k, v in sorted(row.items())}}
                for day, row in zip(days, rows)]

    def _evalsha_all(self, calls: list[tuple[list, list]], extra: list[tuple] = ()) -> list:
        """Run record_hits.lua once per call, and the ``extra`` commands once, in one round trip.

        EVALSHA straight away (no SCRIPT EXISTS first); on NOSCRIPT (a restarted or new node)
        the script is loaded and only the calls are repeated: their batch markers make that
        safe, and the extra commands (which have no marker) have run already.
        """
        if self.is_cluster:
            # Redis Cluster pipelines refuse EVALSHA: one call per site, each one round trip.
            replies = [self._evalsha_retrying(names, args) for names, args in calls]
            if extra:
                pipe = self.redis.pipeline(transaction=False)
                for command in extra:
                    pipe.execute_command(*command)
                pipe.execute()
            return replies
        pipe = self.redis.pipeline(transaction=False)
        for names, args in calls:
            pipe.evalsha(self._sha, len(names), *names, *args)
        for command in extra:
            pipe.execute_command(*command)
        everything = pipe.execute(raise_on_error=False) if calls or extra else []
        replies = everything[:len(calls)]
        if any(isinstance(r, NoScriptError) for r in replies):
            self.redis.script_load(self._lua)
            return self._evalsha_all(calls)
        for result in everything:
            if isinstance(result, Exception):
                raise result
        return replies

    def _evalsha_retrying(self, names: list, args: list):
        try:
            return self.redis.evalsha(self._sha, len(names), *names, *args)
        except NoScriptError:
            self.redis.script_load(self._lua)  # on Redis Cluster: on every primary
            return self.redis.evalsha(self._sha, len(names), *names, *args)

    # --- reads --------------------------------------------------------------------------

    def read_counters(self, site: Site, now: datetime, week_start: int) -> dict:
        """Online, today, yesterday, week, month and total numbers of a site, in one round trip."""
        tz = site.tz
        today = keys.local_day(now, tz)
        yesterday = today - timedelta(days=1)
        week = keys.week_days(today, week_start)
        month = [today.replace(day=n) for n in range(1, today.day + 1)]
        days = sorted({yesterday, *week, *month})
        now_ms = int(now.timestamp() * 1000)
        with redis_errors("counters", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.zcount(keys.online(site.id), now_ms - self.limits.online_window_seconds * 1000, "+inf")
            self._queue_days(pipe, site.id, days)
            pipe.hmget(keys.total(site.id), METRICS)
            pipe.hmget(keys.baseline(site.id), METRICS)
            results = pipe.execute()
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

    def read_pages(self, site: Site, pages: list[str], now: datetime) -> list[dict]:
        """Today's and all-time views (baseline included) of normalized ``pages``, in one round trip."""
        today = keys.local_day(now, site.tz)
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
        today = keys.local_day(now, site.tz)
        if period == "all":
            return self._top_of_sets(site, [keys.pages_all(site.id)], limit)
        return self.top_pages_of_days(site, period_days(period, today, week_start), limit)

    def _top_of_sets(self, site: Site, sets: list[str], limit: int) -> list[dict]:
        """The most viewed pages of these page-views sets summed, with titles and links (one round trip)."""
        with redis_errors("pages", self.log_reply_error):
            flat = self._top_pages(keys=[keys.page_titles(site.id), keys.page_links(site.id), *sets], args=[limit])
        return [{"path": flat[i].decode(), "title": flat[i + 2].decode() or None, "views": int(float(flat[i + 1])),
                 "link": flat[i + 3].decode() or flat[i].decode()} for i in range(0, len(flat), 4)]

    def set_page_baselines(self, site_id: str, rows: list[tuple[str, int]]) -> int:
        """Replace the baseline views of these pages (one script call); answer how many changed."""
        with redis_errors("pages", self.log_reply_error):
            return int(self._set_page_baselines(keys=[keys.page_baseline(site_id), keys.pages_all(site_id)],
                                                args=[value for row in rows for value in row]))

    def log_page_baseline(self, site_id: str, audit: dict) -> None:
        """Record one page baseline import in the site's audit trail (newest first, bounded)."""
        with redis_errors("pages", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.lpush(keys.page_baseline_log(site_id), json.dumps(audit, sort_keys=True, ensure_ascii=False))
            pipe.ltrim(keys.page_baseline_log(site_id), 0, BASELINE_LOG_LENGTH - 1)
            pipe.execute()

    def page_baseline_log(self, site_id: str) -> list[dict]:
        with redis_errors("pages", self.log_reply_error):
            return [json.loads(e) for e in self.redis.lrange(keys.page_baseline_log(site_id), 0, -1)]

    def history(self, site: Site, days: list[date]) -> list[dict]:
        """One row per local day, oldest first."""
        with redis_errors("other", self.log_reply_error):
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
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(keys.baseline(site_id), mapping=mapping)
            pipe.lpush(keys.baseline_log(site_id), json.dumps({**audit, **mapping}, sort_keys=True))
            pipe.ltrim(keys.baseline_log(site_id), 0, BASELINE_LOG_LENGTH - 1)
            pipe.execute()
        return mapping

    def get_baseline(self, site_id: str) -> tuple[dict[str, int], list[dict]]:
        """The current baseline and its audit trail, newest first."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.hmget(keys.baseline(site_id), METRICS)
            pipe.lrange(keys.baseline_log(site_id), 0, -1)
            current, log = pipe.execute()
        return {m: _int(v) for m, v in zip(METRICS, current)}, [json.loads(e) for e in log]

    # --- dashboard ----------------------------------------------------------------------

    def count_signin_attempt(self, address: str, now: datetime) -> int:
        """Count one dashboard sign-in attempt of a hashed client address; answer this minute's count."""
        seconds = int(now.timestamp())
        key = keys.signin_attempts(address, seconds // 60)
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.incr(key)
            # Relative to the service's clock (which decides the minute), not Redis's.
            pipe.expire(key, 60 - seconds % 60 + keys.SIGNIN_KEEP_SECONDS)
            count, _ = pipe.execute()
        return int(count)

    def put_share(self, site_id: str, share_id: str, record: dict) -> None:
        """Store a share link's record (its secret's hash, never the secret)."""
        with redis_errors("other", self.log_reply_error):
            self.redis.hset(keys.shares(site_id), share_id, json.dumps(record, sort_keys=True, ensure_ascii=False))

    def get_share(self, site_id: str, share_id: str) -> dict | None:
        """A share link's record, or None when it was never made or was revoked."""
        with redis_errors("other", self.log_reply_error):
            raw = self.redis.hget(keys.shares(site_id), share_id)
        return json.loads(raw) if raw else None

    def list_shares(self, site_id: str) -> dict[str, dict]:
        """Every share link of a site: id -> record."""
        with redis_errors("other", self.log_reply_error):
            raw = self.redis.hgetall(keys.shares(site_id))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def delete_shares(self, site_id: str, share_ids: list[str]) -> int:
        """Revoke share links; answer how many existed."""
        if not share_ids:
            return 0
        with redis_errors("other", self.log_reply_error):
            return int(self.redis.hdel(keys.shares(site_id), *share_ids))

    def top_pages_of_days(self, site: Site, days: list[date], limit: int) -> list[dict]:
        """The ``limit`` most viewed pages summed over local ``days`` (each within PAGE_DAYS_KEPT), with titles."""
        return self._top_of_sets(site, [keys.pages_day(site.id, d) for d in days], limit)


def connect(url: str, timeout_seconds: float):
    """A redis-py client for ``url`` (see CounterStore.from_url) with bounded waits."""
    from urllib.parse import unquote, urlsplit

    options = dict(
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
        # One immediate retry heals a pooled connection that died with a Redis restart;
        # more would multiply the wait of a hit during an outage.
        retry=Retry(NoBackoff(), 1),
    )
    scheme, _, rest = url.partition("://")
    if scheme in ("redis+cluster", "rediss+cluster"):
        from redis.cluster import ClusterNode, RedisCluster

        parts = urlsplit(f"redis://{rest}")
        nodes = [ClusterNode(*_host_port(n, 6379)) for n in parts.netloc.rpartition("@")[2].split(",")]
        return RedisCluster(startup_nodes=nodes, ssl=scheme.startswith("rediss"),
                            password=unquote(parts.password) if parts.password else None,
                            require_full_coverage=True, **options)
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        from redis.sentinel import Sentinel

        parts = urlsplit(f"redis://{rest}")
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError("redis+sentinel:// needs the master name: redis+sentinel://host:26379/mymaster")
        nodes = [_host_port(n, 26379) for n in parts.netloc.rpartition("@")[2].split(",")]
        sentinel = Sentinel(nodes, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds)
        return sentinel.master_for(path[0], db=int(path[1]) if len(path) > 1 else 0, ssl=scheme.startswith("rediss"),
                                   password=unquote(parts.password) if parts.password else None, **options)
    return redis.Redis.from_url(url, **options)


def _host_port(node: str, default_port: int) -> tuple[str, int]:
    host, _, port = node.rpartition(":") if ":" in node else (node, "", str(default_port))
    return host.strip("[]"), int(port or default_port)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


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


PERIODS = ("today", "yesterday", "week", "month", "all")
"""Periods of a most-read list."""


def period_days(period: str, today: date, week_start: int) -> list[date]:
    """The local days of a period that ends today (all but 'all')."""
    if period == "today":
        return [today]
    if period == "yesterday":
        return [today - timedelta(days=1)]
    if period == "week":
        return keys.week_days(today, week_start)
    if period == "month":
        return [today.replace(day=n) for n in range(1, today.day + 1)]
    raise ValueError(f"unknown period {period!r}")


def pack_hits(hits: list[Hit], at_ms: list[int]) -> bytes:
    """Pack the per-hit fields of record_hits.lua (its ARGV[14]) as MessagePack, one column per field."""
    return msgpack.packb(([hit.visitor for hit in hits], at_ms, [hit.kind for hit in hits], [hit.page for hit in hits],
                          [hit.title for hit in hits], [hit.link for hit in hits]))


def _script(name: str) -> str:
    return resources.files(__package__).joinpath(f"lua/{name}").read_text()


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts + [0] * (3 - len(parts)))
