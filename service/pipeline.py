"""What happens to a hit between the HTTP route and the recorder, built once per app.

parse → site (cached) → filters → visitor id (salted hash) → recorder. The route keeps the
HTTP side (status, headers); this object holds the app's store, recorder, site cache and
clock, so a hit looks each of them up once rather than through Flask's proxies.

A hit is never refused because Redis is away: when this worker has never seen the site
(started, respawned or the site just registered during the outage), the hit is buffered
with the hosts it claims, and the recorder checks them against the site once Redis answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from . import metrics
from .beacon import Beacon
from .caches import TtlCache
from .context import find_site
from .errors import ApiError, RedisReplyError, StorageUnavailable, UnknownSite
from .filters import agent_drop_reason, claimed_hosts, domain_drop_reason
from .recorder import BufferedRecorder
from .hits import Hit
from .pages import page_key
from .store import CounterStore
from .visitor import address_id, visitor_id


class HitPipeline:
    """Turn one request's beacon into a recorded Hit, or the reason it is not counted."""

    def __init__(self, store: CounterStore, recorder: BufferedRecorder, site_cache: TtlCache,
                 clock: Callable[[], datetime], default_timezone: str = "Asia/Ho_Chi_Minh"):
        self.store = store
        self.recorder = recorder
        self.site_cache = site_cache
        self.clock = clock
        self.default_timezone = default_timezone

    def count(self, parse: Callable[[], Beacon], environ: dict) -> tuple[str, datetime]:
        """Run one hit through; answer its outcome (a recorder outcome or a drop reason) and time.

        Raises ApiError (4xx) for a malformed hit or an unknown site, counted in metrics.
        """
        try:
            beacon = parse()
        except ApiError:
            metrics.hits("invalid").inc()
            raise
        try:
            site = find_site(self.site_cache, self.store, beacon.site)
        except UnknownSite:
            metrics.hits("unknown_site").inc()
            raise
        except (StorageUnavailable, RedisReplyError):
            site = None  # Redis away and the site never seen here: checked when Redis is back
        now = self.clock()
        hosts = claimed_hosts(beacon, environ)
        if reason := agent_drop_reason(environ) or (site and domain_drop_reason(site, hosts)):
            metrics.hits(reason).inc()
            return reason, now
        user_agent = environ.get("HTTP_USER_AGENT", "")
        address = environ.get("REMOTE_ADDR") or ""
        zone = site.timezone if site else self.default_timezone
        day = now.astimezone(site.tz if site else ZoneInfo(zone)).date()
        salt = self.store.salt(day, now)
        # A site unseen here keeps only the path: its page_params are not known yet.
        page = page_key(beacon.url, site.page_params if site else ()) if beacon.kind == "pageview" else ""
        hit = Hit(beacon.site, visitor_id(salt, beacon.site, address, user_agent), beacon.kind, now, zone,
                  address_id(salt, address), day if site else None, () if site else hosts, page, beacon.title)
        return self.recorder.record(hit), now
