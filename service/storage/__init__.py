"""The Redis model: the only package that talks to Redis (key names come from keys.py).

``CounterStore`` is the facade every caller uses; each of its parts holds one concern:
connection (URLs), replies (outages vs error replies), health (version, role, durability),
sites, salts, writes (record_hits.lua), reads, baselines and credentials (shares, sign-in).
"""

from __future__ import annotations

import dataclasses

import redis

from ..model.periods import PERIODS, period_days  # noqa: F401  (read by routes with the store)
from .baselines import METRICS, BaselinesMixin
from .breakdowns import BreakdownsMixin
from .connection import connect
from .credentials import CredentialsMixin
from .groups import GroupsMixin
from .health import Durability, HealthMixin, Server  # noqa: F401
from .reads import ReadsMixin
from .replies import ErrorLog, classify, redis_errors, reply_message  # noqa: F401
from .salts import SaltsMixin
from .sites import SitesMixin
from .writes import WritesMixin, pack_hits  # noqa: F401


@dataclasses.dataclass(frozen=True)
class Limits:
    """The counting windows the store applies to every hit."""

    online_window_seconds: int
    visit_timeout_seconds: int
    visitor_hits_per_minute: int
    address_hits_per_minute: int = 0
    pages_per_day: int = 50_000
    pages_all_time: int = 200_000
    sources_per_day: int = 1_000
    detail_days: int = 400



class CounterStore(HealthMixin, SitesMixin, SaltsMixin, WritesMixin, ReadsMixin, BreakdownsMixin, BaselinesMixin,
                   CredentialsMixin, GroupsMixin):
    """Counters, sites, salts and history in Redis."""

    def __init__(self, client: redis.Redis, limits: Limits):
        self.redis = client
        self.limits = limits
        self.is_cluster = isinstance(client, redis.RedisCluster)
        self.log_reply_error = ErrorLog()
        self.pages_over_cap: dict = {}
        """Sites whose distinct pages passed PAGES_PER_DAY, and the last local day they did."""
        self._init_salts()
        self._init_writes()
        self._init_reads()
        self._init_baselines()

    @classmethod
    def from_settings(cls, settings, timeout_seconds: float | None = None) -> CounterStore:
        """The store the service's settings describe (``timeout_seconds`` overrides theirs)."""
        limits = Limits(
            online_window_seconds=settings.ONLINE_WINDOW_SECONDS,
            visit_timeout_seconds=settings.VISIT_TIMEOUT_SECONDS,
            visitor_hits_per_minute=settings.VISITOR_HITS_PER_MINUTE,
            address_hits_per_minute=settings.IP_HITS_PER_MINUTE,
            pages_per_day=settings.PAGES_PER_DAY,
            pages_all_time=settings.PAGES_ALL_TIME,
            sources_per_day=settings.SOURCES_PER_DAY,
            detail_days=settings.DETAIL_DAYS,
        )
        store = cls.from_url(settings.REDIS_URL, limits, timeout_seconds or settings.REDIS_TIMEOUT_SECONDS)
        store.confirm_replicas = settings.CONFIRM_REPLICAS
        return store

    @classmethod
    def from_url(cls, url: str, limits: Limits, timeout_seconds: float = 0.25) -> CounterStore:
        """Connect lazily to ``url`` with bounded connect and read timeouts.

        ``redis://``, ``rediss://``, ``unix://``: one Redis.
        ``redis+cluster://host:port[,host:port...]``: Redis Cluster (nodes are discovered).
        ``redis+sentinel://host:port[,host:port...]/<master name>[/<db>]``: the master that
        Sentinel names, followed through failovers.
        """
        return cls(connect(url, timeout_seconds), limits)
