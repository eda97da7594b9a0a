"""What happens to a hit between the HTTP route and the recorder, built once per app.

parse → site (cached) → filters → visitor id (salted hash) → recorder. The route keeps the
HTTP side (status, headers); this object holds the app's store, recorder, site cache and
clock, so a hit looks each of them up once rather than through Flask's proxies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from . import metrics
from .beacon import Beacon
from .caches import TtlCache
from .context import find_site
from .errors import ApiError
from .filters import drop_reason
from .recorder import BufferedRecorder
from .store import CounterStore, Hit
from .visitor import address_id, visitor_id


class HitPipeline:
    """Turn one request's beacon into a recorded Hit, or the reason it is not counted."""

    def __init__(self, store: CounterStore, recorder: BufferedRecorder, site_cache: TtlCache,
                 clock: Callable[[], datetime]):
        self.store = store
        self.recorder = recorder
        self.site_cache = site_cache
        self.clock = clock

    def count(self, parse: Callable[[], Beacon], environ: dict) -> tuple[str, datetime]:
        """Run one hit through; answer its outcome (a recorder outcome or a drop reason) and time.

        Raises ApiError (4xx) for a malformed hit or an unknown site, counted in metrics.
        """
        try:
            beacon = parse()
            site = find_site(self.site_cache, self.store, beacon.site)
        except ApiError as exc:
            metrics.hits("unknown_site" if exc.status == 404 else "invalid").inc()
            raise
        now = self.clock()
        if reason := drop_reason(beacon, site, environ):
            metrics.hits(reason).inc()
            return reason, now
        user_agent = environ.get("HTTP_USER_AGENT", "")
        address = environ.get("REMOTE_ADDR") or ""
        day = now.astimezone(site.tz).date()
        salt = self.store.salt(day, now)
        hit = Hit(site.id, visitor_id(salt, site.id, address, user_agent), beacon.kind, now, site.timezone,
                  address_id(salt, address), day)
        return self.recorder.record(hit), now
