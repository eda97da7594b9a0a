"""Why a hit is not counted: each rule returns a reason name, or None to count it."""

from __future__ import annotations

import functools

from .beacon import Beacon, page_host
from .crawlers import is_crawler
from ..errors import ApiError
from ..model.hits import Outcome, RequestFacts
from ..model.sites import Site

MAX_USER_AGENT_CHARS = 512
"""Longer User-Agents are not counted (``user_agent_too_long``) and never run through the patterns.

What browsers send: desktop and mobile Chrome, Edge, Firefox, Safari and Coc Coc 70-150
characters (Chrome's reduced User-Agent has a fixed shape); the longest in current traffic are
in-app WebViews (Facebook and Instagram on iOS, with their bracketed FBAN/FBAV... or device
fields: 250-350). A ten-day capture of 2,272 distinct agents (crunchbang.org, 2007) peaked at
205, average 91; agents past 600 came from stacked toolbars of IE days (lescampeurs.org, 2008).
"""

def is_prefetch(facts: RequestFacts) -> bool:
    """Tell whether the request is a prefetch/prerender rather than a real view."""
    purpose = facts.purpose
    return bool(purpose) and ("prefetch" in purpose or "prerender" in purpose or purpose == "preview")


def drop_reason(beacon: Beacon, site: Site, facts: RequestFacts) -> Outcome | None:
    """The reason this hit must not be counted, or None."""
    return agent_drop_reason(facts) or domain_drop_reason(site, claimed_hosts(beacon, facts))


def agent_drop_reason(facts: RequestFacts) -> Outcome | None:
    """The reason the request itself (not its site) must not be counted: prefetch, no agent, bot."""
    if is_prefetch(facts):
        return Outcome.PREFETCH
    if not facts.agent:
        return Outcome.NO_USER_AGENT
    if len(facts.agent) > MAX_USER_AGENT_CHARS:
        return Outcome.USER_AGENT_TOO_LONG
    if is_crawler(facts.agent):
        return Outcome.BOT
    return None


def claimed_hosts(beacon: Beacon, facts: RequestFacts) -> tuple[str, ...]:
    """The hosts a hit claims to come from: its page URL's, and its Origin's when a browser sent one.

    A browser always sends Origin on a cross-origin POST: a page on another domain that
    posts someone else's URL is caught by it. ``Origin: null`` (sandboxed frames, file://)
    becomes a host no site owns.
    """
    if facts.origin is None:
        return (beacon.host,)
    # An Origin longer than any host and scheme can be is junk, and never cached (4,096 of 8 KiB: 31 MiB).
    return (beacon.host, origin_host(facts.origin) if len(facts.origin) <= 300 else "")


@functools.lru_cache(maxsize=4096)  # a site's hits come from its few origins; made-up ones just pass through
def origin_host(origin: str) -> str:
    """The normalized host of an Origin header, or '' (``null``, or not a URL): a host no site owns."""
    try:
        return page_host(origin)
    except ApiError:
        return ""


def domain_drop_reason(site: Site, hosts: tuple[str, ...]) -> Outcome | None:
    """'foreign_domain' unless every claimed host is one of the site's domains."""
    for host in hosts:
        if not site.owns(host):
            return Outcome.FOREIGN_DOMAIN
    return None
