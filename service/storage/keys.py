"""Every Redis key name and expiry deadline, built in this one place.

Key layout (every key of a site carries the hash tag ``{site}``, so one site's
keys share a Redis Cluster slot and one Lua script may touch them all):

====================================  ======  ==========================================
key                                   type    content / lifetime
====================================  ======  ==========================================
``va:sites``                          set     ids of registered sites (for listing); forever
``va:salt:<YYYY-MM-DD>``              string  random visitor-hash salt of a local day;
                                              expires 2 days after that day
``va:{s}:cfg``                        hash    site settings: domains (JSON), timezone; a
                                              hit of a site without it is never written
``va:{s}:tot``                        hash    all-time ``visits``/``pageviews``/``visitors``; forever
``va:{s}:base``                       hash    imported baseline, same fields; forever
``va:{s}:base:log``                   list    audit trail of baseline changes (JSON); forever
``va:{s}:h:<YYYY-MM>``                hash    history: ``<DD>:v``/``<DD>:p``/``<DD>:u`` per
                                              local day; forever, ~1 KiB a month
``va:{s}:u:<YYYY-MM-DD>``             hll     distinct visitors of a local day; expires
                                              2 days after that day ends
``va:{s}:on``                         zset    visitor id -> last seen (ms); members older
                                              than the online window are trimmed; expires
                                              one window after the last hit
``va:{s}:s:<visitor>``                string  ``<last hit ms>:<minute>:<hits in it>``: the
                                              visitor's visit (sliding) and per-minute cap;
                                              expires at last hit + visit timeout
``va:{s}:ip:<address>:<minute>``      string  hits from one client address (hashed with the
                                              day's salt) in one minute; expires 2 minutes
                                              after that minute
``va:{s}:pg:d:<YYYY-MM-DD>``          zset    page -> views of that local day (at most
                                              PAGES_PER_DAY pages); trimmed to the top
                                              PAGES_KEPT_PER_PAST_DAY once the day is past;
                                              expires 33 days after that day ends
``va:{s}:pg:all``                     zset    page -> all-time views, baseline included;
                                              at most PAGES_ALL_TIME pages: past it the least
                                              viewed go (about 200 B a page)
``va:{s}:pg:floor``                   hash    ``views``: the most views a page had when it was
                                              pushed out of pg:all; ``pages``: how many were;
                                              two fields, forever
``va:{s}:pg:t``                       hash    page -> latest title, for pages pg:all keeps
                                              (at most 200 characters; about 265 B a page)
``va:{s}:pg:l``                       hash    page -> the path as the portal spells it, when
                                              that differs from the page (case, slash,
                                              index.html): the most-read list links to it;
                                              for pages pg:all keeps
``va:{s}:pg:base``                    hash    page -> imported baseline views; forever
``va:{s}:pg:base:log``                list    audit trail of page baseline imports; forever
``va:{s}:nc:<YYYY-MM-DD>``            hash    hits not counted that local day, by reason
                                              (bot, prefetch, foreign_domain, rate_limited...);
                                              expires 100 days after that day ends
``va:{s}:src:<YYYY-MM-DD>``            hash    visits begun that local day by source:
                                              ``<channel>|<name>`` (names only: a search
                                              engine's or network's, a referrer's host, a
                                              utm_source), at most SOURCES_PER_DAY fields, then
                                              ``<channel>|(other)``; once the day is past, its
                                              top DETAIL_KEPT_PER_PAST_DAY names (the rest
                                              folded into ``(other)``); expires DETAIL_DAYS
                                              after the day ends
``va:{s}:dev:<YYYY-MM-DD>``            hash    visits by ``d|<device>`` and ``a|<in-app
                                              browser>``; same lifetime
``va:{s}:br:<YYYY-MM-DD>``             hash    visits by browser family (SOURCES_PER_DAY names,
``va:{s}:os:<YYYY-MM-DD>``                     then ``Other``); same lifetime
``va:{s}:shares``                     hash    dashboard share links: id -> JSON (SHA-256 of
                                              the secret, label, created, expires); an
                                              entry lives until revoked (expired ones are
                                              refused, and dropped when listed)
``va:tokens``                         hash    site tokens: id -> JSON (label, sites, created,
                                              expires, SHA-256 of the key, never the key);
                                              at most MAX_TOKENS; an entry lives until revoked
``va:tokens:used``                    hash    token id -> when it was last used (ISO, written
                                              at most hourly per process); dropped with it
``va:session:<id>``                   string  a dashboard session (JSON: role, credential id,
                                              sites, CSRF token, ADMIN_TOKEN fingerprint);
                                              expires when the session does; deleted by
                                              sign-out
``va:sessions``                       zset    session id -> its end (unix s), to list them;
                                              ended ones are trimmed when listed or made
``va:once:<value>``                   string  a dashboard form's one-time value, once used
                                              (a resent form changes nothing); expires after
                                              a day
``va:authfail:<address>:<minute>``    string  failed bearer or sign-in attempts from one
                                              client address (an HMAC of it) in one minute;
                                              expires 2 minutes after it
``va:signin:<address>:<minute>``      string  dashboard sign-in attempts from one client
                                              address (an HMAC of it, never the address) in
                                              one minute; expires 2 minutes after it
``va:{s}:b:<batch id>``               string  marker of a written batch of hits, so a
                                              batch retried after a timeout counts once;
                                              expires after 10 minutes
``va:{_sites}:ix``                    zset    every registered site id at score 0, for
                                              paging in id order (ZRANGEBYLEX); forever,
                                              ~60 bytes a site
``va:{_sites}:cat``                   hash    site id -> JSON of its domains, zone and group
                                              (a copy of its cfg for the sites list's search
                                              and filters); forever, ~150 bytes a site
``va:{g:<g>}:cfg``                    hash    a group's timezone and label; forever
``va:{g:<g>}:sites``                  set     the ids of the group's member sites; forever
``va:{g:<g>}:u:<YYYY-MM-DD>``         hll     distinct readers of the group's members on a
                                              day of the group's zone (a group visitor id,
                                              not per site); expires 2 days after that day
``va:{g:<g>}:on``                     zset    group visitor id -> last seen (ms); trimmed to
                                              the online window, expires one window after
``va:{g:<g>}:h:<YYYY-MM>``            hash    ``<DD>:u``: the day's distinct readers; forever,
                                              ~0.3 KiB a month
``va:{g:<g>}:tot``                    hash    ``visitors``: the sum of the days' distinct
                                              readers since the group began; forever
====================================  ======  ==========================================

"today" and "this week" are read from the history hash (a week is at most seven
``<DD>`` fields across at most two month hashes), so a hit writes no separate day or
week counters. Visitors are per local day (the salt rotates daily, so one person is
one visitor per day); week and total visitors are sums of days.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import date, timedelta, timezone, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ..model.periods import day_end

SALT_KEEP_DAYS = 2
"""A day's salt (and its visitor set) outlives the day by this many days, for late hits."""

PAGE_DAYS_KEPT = 33
"""A day's page views outlive the day this long: 'month' and the dashboard's 30 days read them."""
PAGES_KEPT_PER_PAST_DAY = 1000
"""Top pages a past day keeps (20 times the largest top list asked for)."""

NOT_COUNTED_DAYS_KEPT = 100
"""A day's not-counted breakdown outlives the day this long (the dashboard's 90 days)."""

BATCH_MARKER_SECONDS = 600
"""How long a written batch is remembered, so that its retries are recognised."""

SITES = "va:sites"


def site_prefix(site: str) -> str:
    return f"va:{{{site}}}"


def config(site: str) -> str:
    return f"{site_prefix(site)}:cfg"


def total(site: str) -> str:
    return f"{site_prefix(site)}:tot"


def baseline(site: str) -> str:
    return f"{site_prefix(site)}:base"


def baseline_log(site: str) -> str:
    return f"{site_prefix(site)}:base:log"


def online(site: str) -> str:
    return f"{site_prefix(site)}:on"


def history(site: str, day: date) -> str:
    return f"{site_prefix(site)}:h:{day:%Y-%m}"


def day_field(day: date, metric: str) -> str:
    """Field of ``metric`` (v visits, p pageviews, u visitors) for ``day`` in its month hash."""
    return f"{day.day:02d}:{metric}"


def pages_day(site: str, day: date) -> str:
    return f"{site_prefix(site)}:pg:d:{day.isoformat()}"


def pages_all(site: str) -> str:
    return f"{site_prefix(site)}:pg:all"


def pages_floor(site: str) -> str:
    return f"{site_prefix(site)}:pg:floor"


def page_links(site: str) -> str:
    return f"{site_prefix(site)}:pg:l"


def page_titles(site: str) -> str:
    return f"{site_prefix(site)}:pg:t"


def page_baseline(site: str) -> str:
    return f"{site_prefix(site)}:pg:base"


def page_baseline_log(site: str) -> str:
    return f"{site_prefix(site)}:pg:base:log"


def not_counted(site: str, day: date) -> str:
    return f"{site_prefix(site)}:nc:{day.isoformat()}"


def not_counted_deadline(day: date, tz: tzinfo) -> int:
    """Unix seconds after which a day's not-counted breakdown may go."""
    return int(day_end(day, tz).timestamp()) + NOT_COUNTED_DAYS_KEPT * 86400


def shares(site: str) -> str:
    return f"{site_prefix(site)}:shares"


SIGNIN_KEEP_SECONDS = 120
"""A minute's sign-in attempt counter outlives its minute by this much."""


def signin_attempts(address: str, minute: int) -> str:
    """Sign-in attempts from one (keyed-hashed) client address in one minute (minutes since the epoch)."""
    return f"va:signin:{address}:{minute}"


TOKENS = "va:tokens"
TOKENS_USED = "va:tokens:used"
SESSIONS = "va:sessions"
SHARE_SESSIONS = "va:sessions:share"
"""The share-link sessions among SESSIONS, by end: at most MAX_SHARE_SESSIONS live (the first to end go)."""
MAX_SHARE_SESSIONS = 20_000
"""Share-link sessions kept at once (~610 bytes each: 12 MB). Opening a forwarded link needs no secret
beyond it, so addresses enough could otherwise fill Redis; past this the sessions nearest their end go
(their viewers open the link again). Operator and token sessions are never pushed out."""


def session(session_id: str) -> str:
    return f"va:session:{session_id}"


FORM_ONCE_SECONDS = 86400
"""A dashboard form's one-time value is remembered this long (a form left open longer is refused)."""


def form_once(value: str) -> str:
    """A dashboard form's one-time value, once it was used (a reload sends it again)."""
    return f"va:once:{value}"


def auth_failures(address: str, minute: int) -> str:
    """Failed credential attempts from one (keyed-hashed) client address in one minute."""
    return f"va:authfail:{address}:{minute}"


def salt(day: date) -> str:
    return f"va:salt:{day.isoformat()}"


def visitors_deadline(day: date, tz: ZoneInfo) -> int:
    """Unix seconds after which a site's visitor set of ``day`` may go."""
    return int(day_end(day, tz).timestamp()) + SALT_KEEP_DAYS * 86400


def salt_deadline_any_zone(day: date) -> int:
    """Unix seconds after which the salt of ``day`` may go, in the latest zone on Earth (UTC-12)."""
    return int(day_end(day, timezone(timedelta(hours=-12))).timestamp()) + SALT_KEEP_DAYS * 86400


def batch_marker(site: str, batch_id: str) -> str:
    return f"{site_prefix(site)}:b:{batch_id}"


DETAIL = -1
"""A DayKey's keep_days that means DETAIL_DAYS (a setting), not a fixed number."""

DETAILS = ("src", "dev", "br", "os")
DETAIL_KEPT_PER_PAST_DAY = 100
"""Names a past day's sources, browsers and OS hashes keep (the most visits); the rest are folded into
'(other)' of their channel ('Other'), so the day still sums to its visits and a flood costs ~100 names
a day for DETAIL_DAYS, not SOURCES_PER_DAY."""
"""Per-visit detail hashes of a local day: sources, devices and apps, browsers, OS."""


def detail(site: str, kind: str, day: date) -> str:
    """A day's per-visit breakdown hash: ``src`` ("channel|name"), ``dev`` ("d|device", "a|app"),
    ``br`` (browser), ``os`` -> visits begun that day."""
    return f"{site_prefix(site)}:{kind}:{day.isoformat()}"


class DayKey(NamedTuple):
    """One key that every hit of a site's local day may touch, as record_hits.lua sees it (``K.<name>``)."""

    name: str
    type: str
    """Its Redis type ('hll': a HyperLogLog, a string to Redis), checked before the script writes anything."""
    build: Callable[[str, date], str]
    """(site, local day) -> the key's name."""
    keep_days: int | None = None
    """It must live this many days after the local day ends (the script gets ``TTL.<name>``); None: no deadline."""
    written: str = "always"
    """When a batch writes it: 'always', 'pages' (a page counted), 'visits' (a visit begun), 'limited' (a hit
    capped) or 'never': the script checks its type, before any write, only for a batch that will write it."""


DAY_KEYS: tuple[DayKey, ...] = (
    DayKey("config", "hash", lambda site, day: config(site), written="never"),
    DayKey("online", "zset", lambda site, day: online(site)),
    DayKey("history", "hash", history),
    DayKey("visitors", "hll", lambda site, day: f"{site_prefix(site)}:u:{day.isoformat()}", SALT_KEEP_DAYS),
    DayKey("total", "hash", lambda site, day: total(site)),
    DayKey("pages", "zset", pages_day, PAGE_DAYS_KEPT, "pages"),
    DayKey("pages_before", "zset", lambda site, day: pages_day(site, day - timedelta(days=1)), written="pages"),
    DayKey("pages_all", "zset", lambda site, day: pages_all(site), written="pages"),
    DayKey("pages_floor", "hash", lambda site, day: pages_floor(site), written="pages"),
    DayKey("titles", "hash", lambda site, day: page_titles(site), written="pages"),
    DayKey("not_counted", "hash", not_counted, NOT_COUNTED_DAYS_KEPT, "limited"),
    DayKey("links", "hash", lambda site, day: page_links(site), written="pages"),
    DayKey("sources", "hash", lambda site, day: detail(site, "src", day), DETAIL, "visits"),
    DayKey("devices", "hash", lambda site, day: detail(site, "dev", day), DETAIL, "visits"),
    DayKey("browsers", "hash", lambda site, day: detail(site, "br", day), DETAIL, "visits"),
    DayKey("oses", "hash", lambda site, day: detail(site, "os", day), DETAIL, "visits"),
    DayKey("sources_before", "hash", lambda site, day: detail(site, "src", day - timedelta(days=1)), written="visits"),
    DayKey("browsers_before", "hash", lambda site, day: detail(site, "br", day - timedelta(days=1)), written="visits"),
    DayKey("oses_before", "hash", lambda site, day: detail(site, "os", day - timedelta(days=1)), written="visits"),
)
"""The day's keys of record_hits.lua, in KEYS order after the batch marker: add a key here and the
script can use it by name (see storage/writes.py)."""

EXPIRING_DAY_KEYS = tuple(key for key in DAY_KEYS if key.keep_days is not None)


@dataclasses.dataclass(frozen=True)
class DayKeys:
    """The key names (DAY_KEYS order) and lifetimes that every hit of one site on one local day
    shares, and the per-hit key names."""

    prefix: str
    names: tuple[str, ...]
    deadlines: tuple[int, ...]
    """Unix seconds after which each of EXPIRING_DAY_KEYS may go, in that order."""
    fields: tuple[str, str, str]
    """History fields of the day: visits, pageviews, visitors."""

    def session(self, visitor: str) -> str:
        return f"{self.prefix}:s:{visitor}"

    def address_minute(self, client: str, minute: int) -> str:
        """Hits from one (hashed) client address in one minute (minutes since the epoch)."""
        return f"{self.prefix}:ip:{client}:{minute}"


@functools.lru_cache(maxsize=1024)
def for_day(site: str, tz: ZoneInfo, day: date, detail_days: int = 400) -> DayKeys:
    """The keys of a site's local ``day`` (cached: every hit of the day asks)."""
    ends = int(day_end(day, tz).timestamp())
    return DayKeys(site_prefix(site), tuple(key.build(site, day) for key in DAY_KEYS),
                   tuple(ends + (detail_days if key.keep_days == DETAIL else key.keep_days) * 86400
                         for key in EXPIRING_DAY_KEYS),
                   (day_field(day, "v"), day_field(day, "p"), day_field(day, "u")))


SITE_INDEX = "va:{_sites}:ix"
"""Every registered site id at score 0 (ZRANGEBYLEX pages in id order); same slot as SITE_CATALOG, under a
hash tag no site id can have (so purging a site named "sites" never touches it)."""
SITE_CATALOG = "va:{_sites}:cat"
"""Site id -> {"domains", "timezone", "group"} as JSON: what the sites list searches and filters."""


def group_prefix(group: str) -> str:
    """A group's keys share the hash tag ``{g:<group>}``: one slot per group, never a site's."""
    return f"va:{{g:{group}}}"


def group_config(group: str) -> str:
    return f"{group_prefix(group)}:cfg"


def group_members(group: str) -> str:
    return f"{group_prefix(group)}:sites"


def group_visitors(group: str, day: date) -> str:
    return f"{group_prefix(group)}:u:{day.isoformat()}"


def group_online(group: str) -> str:
    return f"{group_prefix(group)}:on"


def group_history(group: str, day: date) -> str:
    return f"{group_prefix(group)}:h:{day:%Y-%m}"


def group_total(group: str) -> str:
    return f"{group_prefix(group)}:tot"
