"""Where a pageview's reader came from and on what: the pipeline's attribution step's helpers.

The source comes from the referrer (and a campaign's ``utm_source`` on the page URL), the device
from the User-Agent, both classified once per distinct host or agent (sources.py, devices.py
cache them). The script counts them for the hits that begin a visit only. 'internal' needs to
know every site's domains: ``SiteHosts`` keeps them per worker, read again each minute.
"""

from __future__ import annotations

import logging
import threading
import time

from ..errors import RedisReplyError, StorageUnavailable

log = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0
"""How stale this worker's map of every site's domains may get (a new sibling site is 'referral' until then)."""


class SiteHosts:
    """Which registered site a host belongs to (exact domains and ``*.`` wildcards), per worker."""

    def __init__(self, store):
        self.store = store
        self._exact: dict[str, str] = {}
        self._wildcards: dict[str, str] = {}
        self._read_at = -REFRESH_SECONDS
        self._lock = threading.Lock()

    def owner(self, host: str) -> str | None:
        """The id of the site whose domains include ``host``, or None."""
        if time.monotonic() - self._read_at >= REFRESH_SECONDS and self._lock.acquire(blocking=False):
            try:
                self._refresh()
            finally:
                self._lock.release()
        found = self._exact.get(host)
        if found is not None or not self._wildcards:
            return found
        labels = host.split(".")
        for first in range(1, len(labels) - 1):
            found = self._wildcards.get(".".join(labels[first:]))
            if found is not None:
                return found
        return None

    def _refresh(self) -> None:
        self._read_at = time.monotonic()
        try:
            sites = [s for s in self.store.get_sites(self.store.list_sites()) if s is not None]
        except (StorageUnavailable, RedisReplyError):
            return  # keep the last map; try again in a minute
        exact, wildcards = {}, {}
        for site in sites:
            for domain in site.domains:
                if domain.startswith("*."):
                    wildcards[domain[2:]] = site.id
                else:
                    exact[domain] = site.id
        self._exact, self._wildcards = exact, wildcards
