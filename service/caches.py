"""Short in-process caches, so polling widgets and repeated hits spare Redis; each bounded in bytes."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")
MISSING = object()

ENTRY_OVERHEAD_BYTES = 400
"""What one entry costs beyond its accounted key and value, in bytes: the map's node, the
(deadline, value) tuple, the float and the objects' headers (measured with tracemalloc, rounded up)."""
SITE_CACHE_MAX_BYTES = 4 * 1024 * 1024
"""Budget of the site settings cache, in bytes per worker (a site's settings are a few hundred bytes;
site ids a client invents are remembered as unknown, up to this budget)."""


def approximate_bytes(key: Hashable, value) -> int:
    """What an entry of a small object cache costs, in bytes: the text of its key and value plus overhead."""
    return len(repr(key)) + len(repr(value)) + ENTRY_OVERHEAD_BYTES


class TtlCache(Generic[V]):
    """A map bounded in bytes (``max_bytes``, as ``size_of`` accounts each entry) and in entries, whose
    entries are fresh for ``ttl_seconds``, then kept as stale.

    Stale entries are what a caller falls back on while Redis is away; the least recently stored
    go first once the entries pass ``max_bytes`` or ``max_entries``.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000,
                 monotonic: Callable[[], float] = time.monotonic, max_bytes: int = SITE_CACHE_MAX_BYTES,
                 size_of: Callable[[Hashable, V], int] = approximate_bytes):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        """Bytes accounted for the entries held now (at most ``max_bytes``)."""
        self._size_of = size_of
        self._monotonic = monotonic
        self._entries: OrderedDict[Hashable, tuple[float, V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, default=None):
        """The fresh value of ``key``, or ``default``."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._monotonic():
            return entry[1]
        return default

    def get_stale(self, key: Hashable, default=None):
        """The last value stored for ``key``, however old, or ``default``."""
        entry = self._entries.get(key)
        return default if entry is None else entry[1]

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value``; the oldest entries go while the cache is over its bytes or entries."""
        size = self._size_of(key, value)
        with self._lock:
            if size > self.max_bytes:  # never held: it would empty the cache for one answer
                self._drop(key)
                return
            self._drop(key)
            self._entries[key] = (self._monotonic() + self.ttl_seconds, value, size)
            self.bytes += size
            while self.bytes > self.max_bytes or len(self._entries) > self.max_entries:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry[2]

    def expire(self, key: Hashable) -> None:
        """Make ``key`` stale now: the next get misses, get_stale still has it."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (0.0, entry[1], entry[2])

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


def serialized_bytes(key: bytes, answer: str) -> int:
    """An answer entry's cost, in bytes: its JSON text (one byte a character, UTF-8 ones more) and overhead."""
    return len(key) + len(answer.encode()) + ENTRY_OVERHEAD_BYTES


class ReadThrough(Generic[V]):
    """Answers loaded at most once per ``ttl_seconds`` per key and process, one loader at a time;
    the last answer stands in (stale) while the loader fails with ``StorageUnavailable``.

    Answers (JSON-able values) are held as their JSON text under a 16-byte digest of their key, so
    what the cache holds is what it accounts: at most ``max_bytes`` bytes per process, however many
    and however long the keys a client invents (a pages answer's key names up to 100 paths).
    """

    LOCK_STRIPES = 64
    """Locks shared by hash of key: pollers of one key wait for one load; the number never grows."""

    def __init__(self, ttl_seconds: float, on_result: Callable[[str], None] = lambda result: None,
                 max_entries: int = 10_000, max_bytes: int = 16 * 1024 * 1024):
        self.answers: TtlCache[str] = TtlCache(ttl_seconds, max_entries, max_bytes=max_bytes, size_of=serialized_bytes)
        self._on_result = on_result
        self._locks = [threading.Lock() for _ in range(self.LOCK_STRIPES)]

    @staticmethod
    def _digest(key: Hashable) -> bytes:
        return hashlib.blake2b(repr(key).encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def read(self, key: Hashable, load: Callable[[], V]) -> tuple[V, bool]:
        """The answer for ``key`` and whether it is stale."""
        from .errors import RedisReplyError, StorageUnavailable

        digest = self._digest(key)
        text = self.answers.get(digest)
        if text is not None:
            self._on_result("hit")
            return json.loads(text), False
        with self._locks[hash(digest) % self.LOCK_STRIPES]:  # concurrent pollers of one key wait for one read
            text = self.answers.get(digest)
            if text is not None:
                self._on_result("hit")
                return json.loads(text), False
            try:
                answer = load()
            except (StorageUnavailable, RedisReplyError):
                text = self.answers.get_stale(digest)
                if text is None:
                    raise
                self._on_result("stale")
                return json.loads(text), True
            self._on_result("miss")
            self.answers.put(digest, json.dumps(answer, ensure_ascii=False, separators=(",", ":")))
            return answer, False

    def forget(self, key: Hashable) -> None:
        self.answers.expire(self._digest(key))
