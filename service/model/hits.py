"""A hit as values, below the pipeline, recorder and store: the request's facts, read once from the
WSGI environ; the Hit written for a counted request; and the Outcome every hit ends with."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from .periods import local_day


class Outcome(enum.StrEnum):
    """How a hit ended. ``counts``: it is in the numbers; ``reported``: the X-Not-Counted header
    names it; every outcome but ``queued`` is a value of va_hits_total's label."""

    VISIT = "visit"
    PAGEVIEW = "pageview"
    PING = "ping"
    BOT = "bot"
    NO_USER_AGENT = "no_user_agent"
    USER_AGENT_TOO_LONG = "user_agent_too_long"
    PREFETCH = "prefetch"
    FOREIGN_DOMAIN = "foreign_domain"
    UNKNOWN_SITE = "unknown_site"
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"
    IP_LIMITED = "ip_limited"
    DROPPED = "dropped"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    QUEUED = "queued"

    @property
    def counts(self) -> bool:
        return self in (Outcome.VISIT, Outcome.PAGEVIEW, Outcome.PING)

    @property
    def reported(self) -> bool:
        """Known when the hit is answered and said in X-Not-Counted (a 204 all the same)."""
        return self in REPORTED

    @property
    def description(self) -> str:
        return OUTCOME_DESCRIPTIONS[self]


REPORTED = frozenset({Outcome.BOT, Outcome.NO_USER_AGENT, Outcome.USER_AGENT_TOO_LONG, Outcome.PREFETCH,
                      Outcome.FOREIGN_DOMAIN, Outcome.RATE_LIMITED, Outcome.DROPPED})
"""The outcomes ``Outcome.reported`` names (a set: it is asked for every hit)."""

OUTCOME_DESCRIPTIONS = {
    Outcome.VISIT: "counted, and a new visit began", Outcome.PAGEVIEW: "counted, within a visit",
    Outcome.PING: "a presence ping of an open page", Outcome.BOT: "a crawler or headless browser",
    Outcome.NO_USER_AGENT: "no User-Agent", Outcome.USER_AGENT_TOO_LONG: "a User-Agent longer than browsers send",
    Outcome.PREFETCH: "a prefetch or prerender", Outcome.FOREIGN_DOMAIN: "a page (or Origin) not on the site's domains",
    Outcome.UNKNOWN_SITE: "no such site (404, or removed before the hit was written)",
    Outcome.INVALID: "a malformed hit (4xx)", Outcome.RATE_LIMITED: "one visitor past VISITOR_HITS_PER_MINUTE",
    Outcome.IP_LIMITED: "one address past IP_HITS_PER_MINUTE (429)",
    Outcome.DROPPED: "lost: the buffer was full, or could not be spilled at shutdown",
    Outcome.REJECTED: "set aside on disk after Redis kept refusing its batch",
    Outcome.DUPLICATE: "a retried batch Redis had written already",
    Outcome.QUEUED: "buffered, counted by its final outcome once written",
}


PURPOSE_HEADERS = ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
"""Speculative-load headers, as WSGI names them."""
PURPOSE_HEADER_SET = frozenset(PURPOSE_HEADERS)


class RequestFacts(NamedTuple):
    """What the request says of itself, read once from the WSGI environ.

    Values of the hit's path are named tuples: immutable like frozen dataclasses, and made in
    a fifth of the time (every request makes one of each).
    """

    agent: str
    """The User-Agent, stripped: the filters judge it and the visitor hash uses it."""
    address: str
    """The client address (the peer, or what TRUSTED_PROXIES report)."""
    purpose: str
    """A speculative-load header (Sec-Purpose, Purpose, X-Purpose, X-Moz), lower case, or ''."""
    origin: str | None
    """The Origin header a browser sends cross-origin, or None."""

    @classmethod
    def from_environ(cls, environ: dict) -> RequestFacts:
        purpose = ""
        if environ.keys() & PURPOSE_HEADER_SET:  # rare: one set operation in C for every other request
            purpose = " ".join(environ[name].lower() for name in PURPOSE_HEADERS if environ.get(name))
        return cls(environ.get("HTTP_USER_AGENT", "").strip(), environ.get("REMOTE_ADDR") or "", purpose,
                   environ.get("HTTP_ORIGIN"))


class Hit(NamedTuple):
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
    """The normalized page (service/model/page_urls.py) of a pageview; '' for a ping."""
    title: str = ""
    """The page's document.title as the beacon sent it (cleaned, at most 200 characters)."""
    link: str = ""
    """The page's path as the portal spells it (only the page_params of its query), when that
    differs from ``page``: links of most-read lists must work on case-sensitive servers too."""
    group: str = ""
    """The site's group ('' for none): the hit also counts for the group's readers and online."""
    group_visitor: str = ""
    """The reader as the group knows them: a keyed hash without the site (model/visitor.py)."""
    group_zone: str = ""
    """The group's time zone: its days, and the day of ``group_visitor``'s salt."""

    channel: str = ""
    """Where the visit came from: direct, search, social, email, internal, referral or campaign."""
    source: str = ""
    """The source's name (a search engine's, a network's, a referrer's host, a utm_source); '' direct."""
    device: str = ""
    """desktop, mobile, tablet or other."""
    browser: str = ""
    os: str = ""
    app: str = ""
    """The in-app browser (Zalo, Facebook…), or 'none'."""

    def local_day(self) -> date:
        return self.day or local_day(self.at, ZoneInfo(self.timezone))


VISIT_FIELDS = ("channel", "source", "device", "browser", "os", "app")
"""What a visit's first pageview says of the whole visit (where from, on what), counted once per visit:
Hit's last fields, in this order. A pageview that continues a visit carries its visit's (the pipeline's
``attribute`` step); a new per-visit field goes at the end of Hit and of this list."""
if Hit._fields[-len(VISIT_FIELDS):] != VISIT_FIELDS:
    raise ImportError(f"Hit must end with its per-visit fields {VISIT_FIELDS}")

SCRIPT_COLUMNS = ("visitor", "at", "kind", "page", "title", "link", "channel", "source", "device", "browser", "os",
                  "app")
"""The Hit fields record_hits.lua reads, each as one MessagePack column (``hits.<name>[i]``; ``at``
in unix ms). A new per-hit field is a Hit field with a default plus its name here: the journal
keeps every Hit field by name, the packer and the script follow this list."""
