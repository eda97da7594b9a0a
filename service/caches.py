"""Short in-process caches, so polling widgets and repeated hits spare Redis."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")
MISSING = object()


class TtlCache(Generic[V]):
    """A bounded map whose entries vanish ``ttl_seconds`` after they were stored."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000,
                 monotonic: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, default=None):
        """The fresh value of ``key``, or ``default``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._monotonic():
                self.hits += 1
                return entry[1]
            self.misses += 1
            return default

    def put(self, key: Hashable, value: V) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            self._entries[key] = (self._monotonic() + self.ttl_seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)
