"""Short in-process caches, so polling widgets and repeated hits spare Redis."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")
MISSING = object()


class TtlCache(Generic[V]):
    """A bounded map whose entries are fresh for ``ttl_seconds``, then kept as stale.

    Stale entries are what a caller falls back on while Redis is away; the least recently
    stored go first once there are more than ``max_entries``.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000,
                 monotonic: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

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
        with self._lock:
            self._entries[key] = (self._monotonic() + self.ttl_seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def expire(self, key: Hashable) -> None:
        """Make ``key`` stale now: the next get misses, get_stale still has it."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (0.0, entry[1])

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class ReadThrough(Generic[V]):
    """Answers loaded at most once per ``ttl_seconds`` per key and process, one loader at a time;
    the last answer stands in (stale) while the loader fails with ``StorageUnavailable``."""

    def __init__(self, ttl_seconds: float, on_result: Callable[[str], None] = lambda result: None,
                 max_entries: int = 10_000):
        self.answers: TtlCache[V] = TtlCache(ttl_seconds, max_entries)
        self._on_result = on_result
        self._loading: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def read(self, key: Hashable, load: Callable[[], V]) -> tuple[V, bool]:
        """The answer for ``key`` and whether it is stale."""
        from .errors import RedisReplyError, StorageUnavailable

        answer = self.answers.get(key)
        if answer is not None:
            self._on_result("hit")
            return answer, False
        with self._guard:
            lock = self._loading.setdefault(key, threading.Lock())
            if len(self._loading) > 4 * self.answers.max_entries:  # keys come from clients: bounded
                self._loading = {key: lock}
        with lock:  # concurrent pollers of one key in this process wait for one read
            answer = self.answers.get(key)
            if answer is not None:
                self._on_result("hit")
                return answer, False
            try:
                answer = load()
            except (StorageUnavailable, RedisReplyError):
                answer = self.answers.get_stale(key)
                if answer is None:
                    raise
                self._on_result("stale")
                return answer, True
            self._on_result("miss")
            self.answers.put(key, answer)
            return answer, False

    def forget(self, key: Hashable) -> None:
        self.answers.expire(key)
