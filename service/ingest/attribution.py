"""Where a pageview's reader came from and on what: the pipeline's attribution step's helpers.

The source comes from the referrer (and a campaign's ``utm_source`` on the page URL), the device
from the User-Agent, both classified once per distinct host or agent (sources.py, devices.py
cache them). The script counts them for the hits that begin a visit only. 'internal' needs to
know every site's domains: ``SiteHosts`` keeps them per worker, read again each minute.

Only a visit's first pageview needs them: ``OngoingVisits`` remembers the readers whose hits Redis
counted moments ago, with what their hit carried, so the next pageviews of their visits reuse it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta

from ..errors import RedisReplyError, StorageUnavailable
from ..model.hits import VISIT_FIELDS

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


ONGOING_VISITORS = 20_000
"""Readers per worker whose visit is remembered as ongoing (~320 bytes each, tracemalloc: ~6.5 MB at most); past it
the least recently counted go first (they are parsed again on their next pageview, nothing more)."""
ONGOING_MARGIN_SECONDS = 60.0
"""A remembered visit is trusted as ongoing only this long short of VISIT_TIMEOUT_SECONDS."""

Attribution = tuple[str, ...]
"""What a hit says of its visit: the values of its ``VISIT_FIELDS`` (channel, source, device, browser, OS, app)."""
VISIT_FIELD_COUNT = len(VISIT_FIELDS)


class OngoingVisits:
    """The readers whose pageview Redis counted in the last VISIT_TIMEOUT_SECONDS, per worker.

    A reader's session in Redis ends no earlier than their last counted pageview plus the visit
    timeout, so their next pageview before then continues the visit and its source and device
    are never counted (the script counts them for a visit's first pageview only). It reuses what
    the counted one carried instead of parsing its referrer and agent again: the device is the
    same (the agent is part of the visitor id), and the source only matters should Redis have
    lost the session (restarted empty, an outage longer than the timeout), where the visit then
    keeps the source of the reader's earlier pageview rather than taking the site's own page as
    its referrer. Filled by the recorder from the outcomes of written batches; the pipeline asks.
    Times are the hits' own datetimes (compared, never converted: a timestamp() costs more than
    the lookup).
    """

    def __init__(self, visit_timeout_seconds: float, max_visitors: int = ONGOING_VISITORS):
        self.trusted = timedelta(seconds=visit_timeout_seconds - ONGOING_MARGIN_SECONDS)
        self.max_visitors = max_visitors
        # visitor -> (until when a pageview continues the visit, its attribution); least recently counted first
        self._visitors: OrderedDict[str, tuple[datetime, Attribution]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._visitors)

    def attribution(self, visitor: str, at: datetime) -> Attribution | None:
        """What ``visitor``'s ongoing visit carries, if a pageview at ``at`` continues it (a pageview
        older than the one remembered does too: Redis's session is at least as recent as that one)."""
        known = self._visitors.get(visitor)
        if known is not None and at < known[0]:
            return known[1]
        return None

    def counted(self, hits: Iterable, outcomes: Iterable[str]) -> None:
        """Remember the readers of the pageviews Redis just counted (``visit`` or ``pageview``)."""
        if self.trusted <= timedelta(0):
            return
        visitors, trusted = self._visitors, self.trusted
        with self._lock:
            for hit, outcome in zip(hits, outcomes):
                if outcome == "pageview" or outcome == "visit":
                    until = hit.at + trusted
                    known = visitors.get(hit.visitor)
                    if known is None or known[0] < until:  # not a late hit replayed from a buffer
                        visitors[hit.visitor] = (until, hit[-VISIT_FIELD_COUNT:])
                        if known is not None:  # a new key is last already
                            visitors.move_to_end(hit.visitor)
            while len(visitors) > self.max_visitors:
                visitors.popitem(last=False)
