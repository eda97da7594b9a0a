"""A batch of buffered hits: written together, under an id that stays the same across retries."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable

from ..model.hits import Hit, Outcome
from ..model.sites import Site
from ..ops import metrics


@dataclasses.dataclass
class Batch:
    """Hits written together; the id stays the same across retries."""

    id: str
    hits: list[Hit]
    replayed: bool = False
    """Read back from the journal (counted in va_journal_replayed_hits_total once written)."""
    size: int = dataclasses.field(init=False)
    """Hits it holds in the buffer's count (fixed: checking sites may drop some hits)."""

    def __post_init__(self):
        self.size = len(self.hits)

    @classmethod
    def new(cls, hits: list[Hit]) -> Batch:
        return cls(secrets.token_hex(8), hits)

    def check_sites(self, get_site: Callable[[str], Site | None]) -> None:
        """Check hits made while their site was unknown here against the site's settings (``get_site``
        reads them from Redis): hits of a site that does not exist or does not own their hosts go.

        A no-op once done, before the first attempt, so a retry sends the same hits.
        """
        if not any(hit.unchecked_hosts for hit in self.hits):
            return
        sites, kept = {}, []
        for hit in self.hits:
            if hit.unchecked_hosts:
                if hit.site not in sites:
                    sites[hit.site] = get_site(hit.site)  # StorageUnavailable: later
                site = sites[hit.site]
                if site is None:
                    metrics.hits(Outcome.UNKNOWN_SITE).inc()
                    continue
                if not all(site.owns(host) for host in hit.unchecked_hosts):
                    metrics.hits(Outcome.FOREIGN_DOMAIN).inc()
                    continue
                hit = hit._replace(timezone=site.timezone, day=None, unchecked_hosts=())
            kept.append(hit)
        self.hits = kept
