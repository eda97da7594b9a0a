"""What the Redis we talk to is: its version, role and memory, and whether it will keep our keys."""

from __future__ import annotations

import dataclasses

import redis
from redis.exceptions import RedisError, ResponseError

from ..errors import StorageUnavailable
from .replies import redis_errors


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



class HealthMixin:
    """Server checks of the store (start-up and /readyz)."""

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


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts + [0] * (3 - len(parts)))
