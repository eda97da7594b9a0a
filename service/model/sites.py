"""A site (one portal): its id, domains and time zone, and which page hosts it owns."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re

import idna
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import BadRequest
from .page_urls import valid_page_params

SITE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
MAX_DOMAINS = 100
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def valid_site_id(value: object) -> bool:
    """Tell whether ``value`` is a well-formed site id."""
    return isinstance(value, str) and SITE_ID.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def normalize_host(host: str) -> str | None:
    """Lower-case, IDNA-encode and check a host name or IP; None when it is not one.

    IDNA 2008 with the UTS 46 mapping, as browsers encode hosts: straße.de is
    xn--strae-oqa.de (Python's own codec, IDNA 2003, would make it strasse.de).
    """
    host = host.strip().rstrip(".")
    if not host or len(host) > 253:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host.isascii():
        host = host.lower()
    else:  # UTS 46 maps case itself: a capital Σ becomes σ, where str.lower() would give ς
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    labels = host.split(".")
    if all(HOST_LABEL.fullmatch(label) for label in labels):
        return host
    return None


def normalize_domain(domain: object) -> str | None:
    """A domain as stored: a host, or ``*.`` followed by a host (any subdomain of it)."""
    if not isinstance(domain, str):
        return None
    if domain.startswith("*."):
        host = normalize_host(domain[2:])
        return f"*.{host}" if host and "." in host or host == "localhost" else None
    return normalize_host(domain)


@dataclasses.dataclass(frozen=True)
class Site:
    """A registered portal."""

    id: str
    domains: tuple[str, ...]
    timezone: str
    page_params: tuple[str, ...] = ()
    """Query parameters that tell pages apart (``?id=1234``); every other one is dropped."""
    group: str = ""
    """The group (a province, a district...) whose counters this site's numbers join; '' for none."""

    @functools.cached_property  # asked for on every hit (a frozen dataclass's __dict__ still takes it)
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def owns(self, host: str) -> bool:
        """Tell whether a page on ``host`` (already normalized, no port) belongs to this site."""
        for domain in self.domains:
            if domain == host or (domain.startswith("*.") and host.endswith(domain[1:])):
                return True
        return False

    def as_json(self) -> dict:
        return {"site": self.id, "domains": list(self.domains), "timezone": self.timezone,
                "page_params": list(self.page_params), "group": self.group or None}

    @classmethod
    def from_request(cls, site_id: str, body: object, default_timezone: str) -> Site:
        """Validate an admin PUT body into a Site, or raise BadRequest saying what is wrong."""
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        unknown = set(body) - {"domains", "timezone", "page_params", "group"}
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        domains = body.get("domains")
        if not isinstance(domains, list) or not domains or len(domains) > MAX_DOMAINS:
            raise BadRequest(f"domains must be a list of 1 to {MAX_DOMAINS} host names")
        cleaned = []
        for domain in domains:
            normalized = normalize_domain(domain)
            if normalized is None:
                raise BadRequest(f"not a host name, IP address or *.wildcard: {str(domain)[:100]!r}")
            if normalized not in cleaned:
                cleaned.append(normalized)
        zone = body.get("timezone", default_timezone)
        if not isinstance(zone, str) or not valid_timezone(zone):
            raise BadRequest("timezone must be an IANA time zone name, e.g. Asia/Ho_Chi_Minh")
        params = valid_page_params(body.get("page_params", []))
        if params is None:
            raise BadRequest("page_params must be a list of at most 20 query parameter names, e.g. [\"id\"]")
        group = body.get("group") or ""
        if group and not valid_site_id(group):
            raise BadRequest("group must be null or an id matching [a-z0-9][a-z0-9-]{0,62}")
        return cls(site_id, tuple(cleaned), zone, params, group)


def valid_timezone(name: str) -> bool:
    """Tell whether ``name`` is an IANA zone this machine knows."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
