"""Where a reader came from: a visit's channel and source name, from its referrer and page URL.

Known hosts come from Matomo's CC0 lists of search engines and social networks, vendored
unchanged in ``service/data/referrers/``, with our own layer over them (``local.yml``: Zalo,
mail services, Android app ids, Vietnamese display names). Only a name ever leaves this
module: never a referrer's path or query, which can carry personal data.

Cost: a referrer's host is classified once per process and kept in a cache bounded in bytes,
so a hit from a known host costs a short scan of the referrer's head and a dict lookup.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from importlib import resources
from typing import Callable, NamedTuple
from urllib.parse import parse_qsl

import idna

from ..caches import TtlCache


class Source(NamedTuple):
    """A visit's channel and the name it is counted under."""

    channel: str
    """'direct' | 'search' | 'social' | 'email' | 'internal' | 'referral' | 'campaign'."""
    name: str
    """A display name ('Google', 'Cốc Cốc', 'Zalo'), a host ('baochinhphu.vn'), a utm_source value, or ''."""


DIRECT = Source("direct", "")
SITE = Source("referral", "")
"""In the host table: an ordinary site, whatever its parent domain is."""

MAX_REFERRER_CHARS = 2048
"""Characters of a referrer (and of a page's query string) read at most: the host is in the head."""
MAX_HOST_CHARS = 253
"""A DNS name's limit: a longer host is junk, counted as direct."""
MAX_CAMPAIGN_CHARS = 100
"""A utm_source value is kept to this many characters."""
HOST_CACHE_MAX_BYTES = 1024 * 1024
"""Budget of the referrer-host cache, in bytes per worker: about 2,000 hosts (a portal sees a few hundred)."""
HOST_ENTRY_OVERHEAD_BYTES = 400
"""What one cached host costs beyond its characters, in bytes: the map's slot, the tuples and the
strings' headers (tracemalloc: ~425 in all for a host of 25 characters, rounded up)."""

DATA = resources.files("service") / "data" / "referrers"
"""Matomo's lists, unchanged, and our layer (``local.yml``)."""

SCHEME = re.compile(r"(?i)(https?|android-app)://")
AUTHORITY = re.compile(r"[^/?#\\]*")
"""A URL's authority: up to the first slash, query or fragment (browsers read a backslash as a slash)."""
HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
APP_ID = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+")
TLD_LABEL = re.compile(r"[a-z]{2,63}")
SECOND_LEVEL = re.compile(r"[a-z]{2,3}")
"""The first label of a two-label public suffix such as com.vn, co.uk, gov.vn."""
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class _Table(NamedTuple):
    hosts: dict[str, Source]
    """Host, or Android app id -> source: the host and its subdomains."""
    any_tld: dict[str, Source]
    """Name before a wildcard public suffix (``google`` of Matomo's ``google.{}``) -> source."""


@functools.cache
def table() -> _Table:
    """Matomo's lists with our layer over them, loaded once per process on first use."""
    import yaml  # only on first use: a process that never classifies never pays for PyYAML

    local = yaml.safe_load((DATA / "local.yml").read_text("utf-8"))
    rename = local.get("rename", {})
    hosts: dict[str, Source] = {}
    any_tld: dict[str, Source] = {}

    def add(pattern: str, source: Source) -> None:
        pattern = pattern.strip().lower()
        if "/" in pattern or not pattern:
            return  # a path-specific entry (google.com/imgres): we classify by host alone
        if pattern.startswith("{}."):
            pattern = pattern[3:]  # any subdomain: suffix matching covers it
        if pattern.startswith("www."):
            pattern = pattern[4:]  # Matomo's search www.facebook.com must not outrank its social facebook.com
        if pattern.endswith(".{}"):
            any_tld[pattern[:-3]] = source
        elif "{}" not in pattern:  # images.{}.ask.com: a wildcard in the middle, left out
            hosts[pattern] = source

    engines = yaml.safe_load((DATA / "SearchEngines.yml").read_text("utf-8"))
    for name, blocks in engines.items():
        source = Source("search", rename.get(name, name))
        for block in blocks:
            for pattern in block.get("urls", ()):
                add(pattern, source)
    socials = yaml.safe_load((DATA / "Socials.yml").read_text("utf-8"))
    for name, patterns in socials.items():
        source = Source("social", rename.get(name, name))
        for pattern in patterns:
            add(pattern, source)
    for channel in ("search", "social", "email"):
        for name, patterns in local.get(channel, {}).items():
            for pattern in patterns:
                add(pattern, Source(channel, name))
    for host in local.get("sites", ()):
        hosts[host.removeprefix("www.")] = SITE  # ends the suffix walk: docs.google.com is not google.com
    return _Table(hosts, any_tld)


def known_host(host: str) -> Source | None:
    """The search engine, social network or mail service whose host (or a parent of it) ``host`` is."""
    hosts, any_tld = table()
    # The lengths of the public suffixes ``google.{}`` may stand for here: ".vn" and ".com.vn",
    # never ".example.com" (a two-label suffix is a short label and a country code).
    cuts = []
    last = host.rfind(".")
    if last > 0 and TLD_LABEL.fullmatch(host, last + 1):
        cuts.append(len(host) - last)
        second = host.rfind(".", 0, last)
        if second > 0 and len(host) - last == 3 and SECOND_LEVEL.fullmatch(host, second + 1, last):
            cuts.append(len(host) - second)
    start = 0
    while host.find(".", start) > 0:  # a.b.google.com.vn, b.google.com.vn, google.com.vn, com.vn
        candidate = host[start:]
        found = hosts.get(candidate)
        if found is not None:
            return None if found is SITE else found
        for cut in cuts:
            if len(candidate) > cut and (found := any_tld.get(candidate[:-cut])) is not None:
                return found
        start = host.index(".", start) + 1
    return None


def normalize_host(host: str) -> str | None:
    """Lower-case, IDNA-encode and check a host name or IP (as ``Site.owns`` expects it); None when junk."""
    host = host.rstrip(".")
    if not host or len(host) > MAX_HOST_CHARS:
        return None
    if host.startswith("["):
        try:
            return str(ipaddress.IPv6Address(host[1:-1])) if host.endswith("]") else None
        except ValueError:
            return None
    if host.isascii():
        host = host.lower()
    else:
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    if len(host) > MAX_HOST_CHARS or not all(HOST_LABEL.fullmatch(label) for label in host.split(".")):
        return None
    return host


def display_host(host: str) -> str:
    """A normalized host as the dashboard names it: no leading ``www.``, Unicode where it is punycode."""
    if host.startswith("www.") and host.count(".") > 1:
        host = host[4:]
    if "xn--" in host:
        try:
            return idna.decode(host)
        except (idna.IDNAError, UnicodeError, ValueError):
            return host  # a broken punycode label: the ASCII form is still a sane name
    return host


class _HostFacts(NamedTuple):
    host: str | None
    """The normalized host, or None when the referrer's host is junk."""
    known: Source | None
    display: str


def _host_bytes(key: str, facts: _HostFacts) -> int:
    return len(key) + len(facts.host or "") + len(facts.display) + HOST_ENTRY_OVERHEAD_BYTES


_host_cache: TtlCache[_HostFacts] = TtlCache(float("inf"), max_entries=1_000_000, max_bytes=HOST_CACHE_MAX_BYTES,
                                             size_of=_host_bytes)


def host_facts(raw_host: str) -> _HostFacts:
    """What is known of a referrer's host as the URL spells it: cached, bounded in bytes."""
    facts = _host_cache.get(raw_host)
    if facts is None:
        host = normalize_host(raw_host)
        if host is None:
            facts = _HostFacts(None, None, "")
        else:
            facts = _HostFacts(host, known_host(host), display_host(host))
        _host_cache.put(raw_host, facts)
    return facts


def campaign(page_query: str) -> str:
    """The page URL's ``utm_source``, trimmed, in lower case and at most 100 characters; '' when none."""
    if "utm_source" not in page_query:
        return ""
    for key, value in parse_qsl(page_query[:MAX_REFERRER_CHARS], keep_blank_values=True, max_num_fields=200):
        if key == "utm_source":
            return CONTROL_CHARACTERS.sub("", value).strip().lower()[:MAX_CAMPAIGN_CHARS].strip()
    return ""


def classify_source(referrer: str, page_query: str, app: str,
                    own_host: Callable[[str], bool], internal_host: Callable[[str], bool]) -> Source:
    """The channel and source name of a visit.

    ``referrer``: document.referrer as the beacon sent it ('' for none; hostile, any length);
    ``page_query``: the page URL's raw query string (read for utm_source before the service drops it);
    ``app``: the in-app browser's name from ``classify_device`` ('Zalo', 'Facebook'...), or 'none';
    ``own_host(host)``: is this host one of the site's own domains;
    ``internal_host(host)``: is it a domain of another site of the same service.
    Both are called with the host normalized as page hosts are (lower case, IDNA-encoded, no port).
    """
    try:
        if page_query and (name := campaign(page_query)):
            return Source("campaign", name)
    except ValueError:  # more fields than max_num_fields: not a campaign link anyone made
        pass
    found = _from_referrer(referrer[:MAX_REFERRER_CHARS].strip()) if referrer else None
    if found is None:  # no usable referrer: in an app's own browser, the app sent the reader
        return Source("social", app) if app and app != "none" else DIRECT
    if isinstance(found, Source):
        return found
    if own_host(found.host):
        return DIRECT
    return Source("internal" if internal_host(found.host) else "referral", found.display)


def _from_referrer(referrer: str) -> Source | _HostFacts | None:
    """A known source, the facts of any other web host, or None when the referrer names no usable host."""
    scheme = SCHEME.match(referrer)
    if scheme is None:
        return None  # javascript:, about:blank, a path, text: not a URL of the web
    authority = AUTHORITY.match(referrer, scheme.end())[0]
    if scheme[1].lower() == "android-app":
        app_id = authority.lower()
        if len(app_id) > MAX_HOST_CHARS or not APP_ID.fullmatch(app_id):
            return None
        return table().hosts.get(app_id)  # an app we do not know: as if there were no referrer
    at = authority.rfind("@")
    if at >= 0:
        authority = authority[at + 1:]
    if not authority.startswith("["):
        authority = authority.partition(":")[0]
    elif "]" in authority:
        authority = authority[:authority.index("]") + 1]
    if len(authority) > MAX_HOST_CHARS + 1:
        return None  # never cached: junk as long as the referrer cap would crowd the cache out
    facts = host_facts(authority)
    if facts.host is None:
        return None
    return facts.known or facts
