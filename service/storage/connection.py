"""Connect to Redis from a URL: one server, Redis Cluster or Sentinel, with bounded waits."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


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

