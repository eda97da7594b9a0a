"""Why a hit is not counted: each rule returns a reason name, or None to count it."""

from __future__ import annotations

from .beacon import Beacon, page_host
from .crawlers import is_crawler
from .errors import ApiError
from .sites import Site

MAX_USER_AGENT_CHARS = 512
"""Longer User-Agents are not counted (``user_agent_too_long``) and never run through the patterns.

What browsers send: desktop and mobile Chrome, Edge, Firefox, Safari and Coc Coc 70-150
characters (Chrome's reduced User-Agent has a fixed shape); the longest in current traffic are
in-app WebViews (Facebook and Instagram on iOS, with their bracketed FBAN/FBAV... or device
fields: 250-350). A ten-day capture of 2,272 distinct agents (crunchbang.org, 2007) peaked at
205, average 91; agents past 600 came from stacked toolbars of IE days (lescampeurs.org, 2008).
"""

# Browsers announce speculative loads in one of these headers (Sec-Purpose, Purpose,
# X-Purpose, X-Moz), read straight from the WSGI environ.
PREFETCH_HEADERS = ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")


def is_prefetch(environ: dict) -> bool:
    """Tell whether the request is a prefetch/prerender rather than a real view."""
    for name in PREFETCH_HEADERS:
        value = environ.get(name)
        if value:
            value = value.lower()
            if "prefetch" in value or "prerender" in value or value == "preview":
                return True
    return False


def drop_reason(beacon: Beacon, site: Site, environ: dict) -> str | None:
    """Name the reason this hit (a request with this WSGI ``environ``) must not be counted, or None."""
    return agent_drop_reason(environ) or domain_drop_reason(site, claimed_hosts(beacon, environ))


def agent_drop_reason(environ: dict) -> str | None:
    """The reason the request itself (not its site) must not be counted: prefetch, no agent, bot."""
    if is_prefetch(environ):
        return "prefetch"
    user_agent = environ.get("HTTP_USER_AGENT", "").strip()
    if not user_agent:
        return "no_user_agent"
    if len(user_agent) > MAX_USER_AGENT_CHARS:
        return "user_agent_too_long"
    if is_crawler(user_agent):
        return "bot"
    return None


def claimed_hosts(beacon: Beacon, environ: dict) -> tuple[str, ...]:
    """The hosts a hit claims to come from: its page URL's, and its Origin's when a browser sent one.

    A browser always sends Origin on a cross-origin POST: a page on another domain that
    posts someone else's URL is caught by it. ``Origin: null`` (sandboxed frames, file://)
    becomes a host no site owns.
    """
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return (beacon.host,)
    try:
        return (beacon.host, page_host(origin))
    except ApiError:
        return (beacon.host, "")


def domain_drop_reason(site: Site, hosts: tuple[str, ...]) -> str | None:
    """'foreign_domain' unless every claimed host is one of the site's domains."""
    for host in hosts:
        if not site.owns(host):
            return "foreign_domain"
    return None
