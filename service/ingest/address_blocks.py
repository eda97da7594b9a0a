"""Per-address blocking: an address Redis found flooding a site is turned away here until its minute ends,
without another round trip (the limit itself is counted in Redis, shared by every worker)."""

from __future__ import annotations

import time

MAX_BLOCKS = 10_000
"""Blocks one process remembers before it forgets the ended ones."""


class AddressBlocks:
    """(site, hashed address) pairs and the unix second their block ends."""

    def __init__(self):
        self._until: dict[tuple[str, str], float] = {}

    def blocked(self, site: str, client: str, at_seconds: float) -> bool:
        """Tell whether hits of ``client`` to ``site`` are turned away at ``at_seconds``."""
        return bool(self._until) and self._until.get((site, client), 0) > at_seconds

    def block(self, site: str, client: str, at_seconds: float) -> None:
        """Turn ``client`` away from ``site`` until the end of the minute of ``at_seconds``."""
        if len(self._until) > MAX_BLOCKS:
            now = time.time()
            self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[(site, client)] = (at_seconds // 60 + 1) * 60
