"""The seam between handlers and the store: handlers hand a Hit to a recorder."""

from __future__ import annotations

from typing import Protocol

from .store import CounterStore, Hit


class Recorder(Protocol):
    def record(self, hit: Hit) -> str:
        """Count ``hit``; answer its outcome ('visit', 'pageview', 'ping', 'rate_limited', ...)."""


class DirectRecorder:
    """Write every hit to Redis before answering (one round trip per hit)."""

    def __init__(self, store: CounterStore):
        self.store = store

    def record(self, hit: Hit) -> str:
        return self.store.record_hits([hit])[0]
