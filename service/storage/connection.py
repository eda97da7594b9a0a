"""Connect to Redis from a URL: one server, Redis Cluster or Sentinel, with bounded waits.

With Sentinel the client carries a ``SentinelFollower`` (``client.va_sentinel``): the write path
asks it, before each batch, where the master is and how many healthy replicas it has (as a
majority of the sentinels see them). The sentinels are asked at most once every
MASTER_CHECK_SECONDS; when they name another master, every pooled connection (idle or in use)
is dropped at once, so nothing more is written to the old master, whose writes its resync will
discard.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

MASTER_CHECK_SECONDS = 1.0
"""How old Sentinel's word on the master (and its replicas) may be when a batch is written."""
FEWER_REPLICAS_AFTER_SECONDS = 5.0
"""How long the sentinels' majority must see the same master with the same replicas up before fewer
replicas than asked may confirm a batch. A failover shows "no replica up" for a moment while the
replica is being promoted and the old master still takes writes that its resync will discard (CI saw
21 hits lost so); a replica that is really gone stays gone."""

log = logging.getLogger(__name__)


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
        client = sentinel.master_for(path[0], db=int(path[1]) if len(path) > 1 else 0,
                                     ssl=scheme.startswith("rediss"),
                                     password=unquote(parts.password) if parts.password else None, **options)
        client.va_sentinel = SentinelFollower(sentinel, path[0], client.connection_pool)
        return client
    return redis.Redis.from_url(url, **options)


class SentinelFollower:
    """Sentinel's current word on one master: its address and its healthy replicas, at most
    MASTER_CHECK_SECONDS old; a new master drops every connection to the old one."""

    def __init__(self, sentinel, service_name: str, pool, check_seconds: float = MASTER_CHECK_SECONDS):
        self.sentinel = sentinel
        self.service_name = service_name
        self.pool = pool
        self.check_seconds = check_seconds
        self.master: tuple[str, int] | None = None
        """The master's (host, port) as Sentinel last named it."""
        self.replicas_up: int | None = None
        """Replicas of that master a majority of the sentinels saw up, or None: no majority named it."""
        self._checked = -check_seconds
        self._lock = threading.Lock()
        self._view_since: tuple[tuple, float] = ((), 0.0)  # (master, replicas up) as seen, and since when

    def check(self) -> tuple[tuple[str, int], int | None]:
        """(master address, healthy replicas), asking the sentinels when the last answer is too old.

        The replica count is what the sentinels that name this master see, the most of them, and
        only when they are a majority of the configured sentinels; otherwise None (count on no
        fewer replicas than asked for). During a failover the sentinels disagree for a few seconds:
        one that has not yet heard of it still names the old master, whose replica was promoted
        away, so its "no healthy replica" must never let a batch be written there alone.
        Raises redis's MasterNotFoundError (an outage) when no sentinel names a master and none did before.
        """
        with self._lock:
            if time.monotonic() - self._checked < self.check_seconds and self.master:
                return self.master, self.replicas_up
            try:
                # The pool's own lookup: it records the address, so connections to another are dropped on release.
                address = tuple(self.pool.get_master_address())
            except RedisError:
                if self.master is None:
                    raise
                address = self.master  # sentinels away: the last address, and no fewer replicas than asked
            views = [self._view(sentinel) for sentinel in list(self.sentinel.sentinels)]
            self._checked = time.monotonic()
            agreeing = [up for named, up, _ in views if named == address]
            up = max(agreeing) if len(agreeing) > len(views) // 2 else None
            now = time.monotonic()
            if self._view_since[0] != (address, up):
                self._view_since = ((address, up), now)
            if any(failing for _, _, failing in views) or now - self._view_since[1] < FEWER_REPLICAS_AFTER_SECONDS:
                up = None  # a failover under way, or a count too new to trust: no fewer replicas than asked
            if self.master is not None and address != self.master:
                log.warning("Sentinel names a new master for %s: %s:%s (was %s:%s); dropping every connection "
                            "to the old one, unconfirmed batches are written again there", self.service_name,
                            *address, *self.master)
                self.pool.disconnect()  # in-use connections too: not one more write to the old master
            self.master, self.replicas_up = address, up
            return address, up

    def _view(self, sentinel) -> tuple[tuple[str, int] | None, int, bool]:
        """One sentinel's word: the master it names (None when it does not answer), its replicas up, and
        whether it is failing that master over right now."""
        try:
            pipe = sentinel.pipeline(transaction=False)
            pipe.sentinel_get_master_addr_by_name(self.service_name)
            pipe.sentinel_slaves(self.service_name)
            pipe.sentinel_master(self.service_name)
            named, replicas, state = pipe.execute()
        except RedisError:
            return None, 0, False
        failing = "failover_in_progress" in str(state.get("flags", ""))
        # Not "master-link-status": Sentinel refreshes it every 10 s, and an isolated old master's
        # own count of linked replicas is 0 exactly when its writes are about to be discarded.
        up = sum(1 for r in replicas if not (r["is_sdown"] or r["is_odown"] or r.get("is_disconnected")))
        if not named:
            return None, up, failing
        host, port = named
        return (host.decode() if isinstance(host, bytes) else host, int(port)), up, failing

    def forget(self) -> None:
        """Ask Sentinel again before the next batch (a write was refused or not confirmed)."""
        with self._lock:
            self._checked = -self.check_seconds


def _host_port(node: str, default_port: int) -> tuple[str, int]:
    host, _, port = node.rpartition(":") if ":" in node else (node, "", str(default_port))
    return host.strip("[]"), int(port or default_port)

