"""Why a hit is not counted: each rule returns a reason name, or None to count it."""

from __future__ import annotations

import functools

from crawlerdetect import CrawlerDetect

from .beacon import Beacon
from .sites import Site

MAX_USER_AGENT_CHARS = 1024

# Browsers announce speculative loads in one of these headers (Sec-Purpose, Purpose,
# X-Purpose, X-Moz), read straight from the WSGI environ.
PREFETCH_HEADERS = ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")


@functools.lru_cache(maxsize=65536)  # ~10 MB per worker; a new agent costs 0.2-0.5 ms
def is_crawler(user_agent: str) -> bool:
    """Tell whether a User-Agent is a crawler or headless browser (cached: the regex is slow)."""
    return CrawlerDetect().is_crawler(user_agent)


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
    if is_prefetch(environ):
        return "prefetch"
    user_agent = environ.get("HTTP_USER_AGENT", "").strip()
    if not user_agent:
        return "no_user_agent"
    if len(user_agent) > MAX_USER_AGENT_CHARS or is_crawler(user_agent):
        return "bot"
    if not site.owns(beacon.host):
        return "foreign_domain"
    return None
