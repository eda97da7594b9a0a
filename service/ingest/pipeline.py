"""What happens to a hit between the HTTP route and the recorder, built once per app.

A named list of small steps (``HitPipeline.STEPS``): parse → site (cached) → agent filters →
domain filter → identity (salted hashes) → address block → page → attribution (source and
device) → record. Each step may end
the hit with an Outcome, counted here, in one place. The route keeps the HTTP side (status,
headers); this object holds the app's store, recorder, site cache and clock, so a hit looks
each of them up once rather than through Flask's proxies.

A hit is never refused because Redis is away: when this worker has never seen the site
(started, respawned or the site just registered during the outage), the hit is buffered
with the hosts it claims, and the recorder checks them against the site once Redis answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ..ops import metrics
from .beacon import Beacon
from ..caches import TtlCache
from ..context import find_site
from ..errors import ApiError, RedisReplyError, StorageUnavailable, UnknownSite
from .filters import agent_drop_reason, claimed_hosts, domain_drop_reason
from ..model.sites import Site
from .recorder import BufferedRecorder
from .address_blocks import AddressBlocks
from ..model.hits import VISIT_FIELDS, Hit, Outcome, RequestFacts
from ..model.page_urls import page_key, page_link
from ..storage import CounterStore
from ..model.visitor import address_id, group_visitor_id, visitor_id
from .attribution import Attribution, SiteHosts
from .devices import classify_device
from .sources import classify_source


class Draft:
    """One hit on its way through the steps: what each step found, for the next ones.

    What a step has not set yet reads as its class default: a hit sets 3 attributes here, not 15.
    """

    beacon: Beacon | None = None
    site: Site | None = None
    zone = visitor = client = page = link = group_visitor = group_zone = ""
    day: date | None = None
    attribution: Attribution = ("",) * len(VISIT_FIELDS)

    def __init__(self, facts: RequestFacts, parse: Callable[[], Beacon], now: datetime):
        self.facts, self.parse, self.now = facts, parse, now


class HitPipeline:
    """Turn one request's beacon into a recorded Hit, or the Outcome it ended with."""

    STEPS = ("parse", "find_site", "filter_agent", "filter_domain", "identify", "identify_in_group", "check_block",
             "locate_page", "attribute")
    """The steps, in order; ``record`` ends every hit that passes them."""

    def __init__(self, store: CounterStore, recorder: BufferedRecorder, site_cache: TtlCache,
                 clock: Callable[[], datetime], default_timezone: str = "Asia/Ho_Chi_Minh",
                 blocks: AddressBlocks | None = None):
        self.store = store
        self.recorder = recorder
        self.site_cache = site_cache
        self.clock = clock
        self.default_timezone = default_timezone
        self.blocks = blocks or recorder.blocks
        self.visits = recorder.visits
        self.site_hosts = SiteHosts(store)
        # The referrer lists and the User-Agent resolver load at start (~0.2 s), not on a reader's first hit.
        classify_device("Mozilla/5.0")
        classify_source("https://www.google.com/", "", "none", lambda host: False, lambda host: False)
        self.group_zones: TtlCache = TtlCache(max(site_cache.ttl_seconds, 1.0), max_entries=10_000)
        self._steps = [getattr(self, name) for name in self.STEPS]

    def count(self, parse: Callable[[], Beacon], environ: dict) -> tuple[Outcome, datetime]:
        """Run one hit through; answer its outcome and time.

        Raises ApiError (4xx) for a malformed hit or an unknown site, counted in metrics.
        """
        draft = Draft(RequestFacts.from_environ(environ), parse, self.clock())
        for step in self._steps:
            outcome = step(draft)
            if outcome is not None:
                metrics.hits(outcome).inc()
                if draft.site is not None:  # the site's "not counted and why", per local day
                    site = draft.site
                    self.recorder.note_drop(site.id, site.timezone, draft.now.astimezone(site.tz).date(), outcome)
                return outcome, draft.now
        return self.record(draft), draft.now  # counted by the recorder once written

    def parse(self, draft: Draft) -> None:
        try:
            draft.beacon = draft.parse()
        except ApiError:
            metrics.hits(Outcome.INVALID).inc()
            raise

    def find_site(self, draft: Draft) -> None:
        try:
            draft.site = find_site(self.site_cache, self.store, draft.beacon.site)
        except UnknownSite:
            metrics.hits(Outcome.UNKNOWN_SITE).inc()
            raise
        except (StorageUnavailable, RedisReplyError):
            draft.site = None  # Redis away and the site never seen here: checked when Redis is back

    def filter_agent(self, draft: Draft) -> Outcome | None:
        return agent_drop_reason(draft.facts)

    def identify(self, draft: Draft) -> None:
        """The visitor and address hashes, under the salt of the hit's local day."""
        site = draft.site
        draft.zone = site.timezone if site else self.default_timezone
        draft.day = draft.now.astimezone(site.tz if site else ZoneInfo(draft.zone)).date()
        salt = self.store.salt(draft.day, draft.now)
        draft.visitor = visitor_id(salt, draft.beacon.site, draft.facts.address, draft.facts.agent)
        draft.client = address_id(salt, draft.facts.address)

    def identify_in_group(self, draft: Draft) -> None:
        """A member site's reader as its group knows them: under the salt of the group's local day."""
        group = draft.site.group if draft.site else ""
        if not group:
            return
        zone = self.group_zones.get(group)
        if zone is None:
            try:
                zone = self.store.group_zones([group])[0] or draft.zone
            except (StorageUnavailable, RedisReplyError):
                zone = self.group_zones.get_stale(group) or draft.zone
            self.group_zones.put(group, zone)
        day = draft.now.astimezone(ZoneInfo(zone)).date()
        salt = self.store.salt(day, draft.now)
        draft.group_zone = zone
        draft.group_visitor = group_visitor_id(salt, group, draft.facts.address, draft.facts.agent)

    def check_block(self, draft: Draft) -> Outcome | None:
        if self.blocks.blocked(draft.beacon.site, draft.client, draft.now.timestamp()):
            return Outcome.IP_LIMITED
        return None

    def filter_domain(self, draft: Draft) -> Outcome | None:
        return domain_drop_reason(draft.site, claimed_hosts(draft.beacon, draft.facts)) if draft.site else None

    def locate_page(self, draft: Draft) -> None:
        # A site unseen here keeps only the path: its page_params are not known yet.
        if draft.beacon.kind == "pageview":
            params = draft.site.page_params if draft.site else ()
            draft.page = page_key(draft.beacon.url, params)
            draft.link = page_link(draft.beacon.url, draft.page, params)

    def attribute(self, draft: Draft) -> None:
        """A pageview's source and device (the script keeps them only if the hit begins a visit): those
        of the reader's ongoing visit when Redis counted them moments ago, else parsed."""
        if draft.beacon.kind != "pageview":
            return
        ongoing = self.visits.attribution(draft.visitor, draft.now)
        if ongoing is not None:
            draft.attribution = ongoing
            return
        site, url = draft.site, draft.beacon.url
        device = classify_device(draft.facts.agent)
        query = url.partition("?")[2].partition("#")[0] if "utm_" in url else ""
        owns = site.owns if site else (lambda host: False)
        source = classify_source(draft.beacon.referrer or "", query, device.app, owns,
                                 lambda host: self.site_hosts.owner(host) not in (None, draft.beacon.site))
        draft.attribution = (*source, *device)

    def record(self, draft: Draft) -> Outcome:
        site, beacon = draft.site, draft.beacon
        unchecked = () if site else claimed_hosts(beacon, draft.facts)
        hit = Hit(beacon.site, draft.visitor, beacon.kind, draft.now, draft.zone, draft.client,
                  draft.day if site else None, unchecked, draft.page, beacon.title, draft.link,
                  site.group if site and draft.group_visitor else "", draft.group_visitor, draft.group_zone,
                  *draft.attribution)  # VISIT_FIELDS: Hit's last
        return self.recorder.record(hit)
