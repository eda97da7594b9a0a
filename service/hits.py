"""A hit as a value: what is written for one counted request, below the pipeline, recorder and store."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

from . import keys


@dataclasses.dataclass(frozen=True)
class Hit:
    """One hit ready to write: who, where, what, and when (the service's clock)."""

    site: str
    visitor: str
    kind: str
    at: datetime
    timezone: str
    client: str = ""
    """The client address hashed with the day's salt (for the per-address limit)."""
    day: date | None = None
    """The hit's local date in ``timezone`` (computed from ``at`` when not given)."""
    unchecked_hosts: tuple[str, ...] = ()
    """Made while Redis was away for a site this worker had never seen: the page's host (and
    the Origin's) to check against the site's domains, and its zone to learn, before writing."""
    page: str = ""
    """The normalized page (service/pages.py) of a pageview; '' for a ping."""
    title: str = ""
    """The page's document.title as the beacon sent it (cleaned, at most 200 characters)."""

    def local_day(self) -> date:
        return self.day or keys.local_day(self.at, ZoneInfo(self.timezone))
