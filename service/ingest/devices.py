"""What a reader reads with: device type, browser and OS families, and the app whose in-app browser it is.

Browser and OS come from ua-parser 1.0 (the maintained uap-core regexes) with its Rust resolver,
ua-parser-rs, when installed (``ua-parser[regex]``): ~13 µs for a User-Agent it has not seen,
against ~350 µs for the pure-Python one. Only the user-agent and OS domains are asked for: the
device domain (brand and model) costs as much again and tells no device type. What ua-parser
does not know, we add here, in small ordered tables:

- the in-app browser's app (Zalo is unknown to ua-parser; Messenger it calls Facebook);
- families, not variants: "Mobile Safari" is Safari, "Chrome Mobile WebView" is Chrome;
- an app's WebView, which ua-parser names after the app ("Facebook", "Instagram", "LINE"),
  counts under the engine it runs on (Safari on iOS, Chrome on Android): the app is a
  dimension of its own;
- the device type, from the agent's tokens.

An iPad in its default "desktop website" mode sends exactly the User-Agent of Safari on a Mac:
it counts as a desktop running macOS (telling them apart needs script, ``navigator.maxTouchPoints``).
An iPad that says so anywhere (``iPad``, Facebook's ``FBMD/iPad``) is a tablet running iOS.

Each distinct User-Agent is parsed once per process and kept in a cache bounded in bytes.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from ..caches import TtlCache


class Device(NamedTuple):
    """What a reader reads with."""

    device: str
    """'desktop' | 'mobile' | 'tablet' | 'other'."""
    browser: str
    """A family: 'Chrome', 'Safari', 'Firefox', 'Edge', 'Cốc Cốc', 'Samsung Internet', 'Opera'... or 'Other'."""
    os: str
    """'Windows', 'Android', 'iOS', 'macOS', 'Linux', 'Chrome OS'... or 'Other'."""
    app: str
    """The app whose in-app browser this is ('Zalo', 'Facebook', 'Messenger'...), or 'none'."""


UNKNOWN = Device("other", "Other", "Other", "none")

MAX_AGENT_CHARS = 512
"""Characters of a User-Agent read at most (the hit filters refuse longer ones before they get here)."""
MAX_NAME_CHARS = 40
"""A family name ua-parser builds from the agent's own text is kept only up to this length; longer is 'Other'."""
AGENT_CACHE_MAX_BYTES = 2 * 1024 * 1024
"""Budget of the User-Agent cache, in bytes per worker: about 3,600 agents of 150 characters."""
AGENT_ENTRY_OVERHEAD_BYTES = 400
"""What one cached agent costs beyond its characters, in bytes: the map's slot, the cache's tuple,
the Device, its new strings and the agent's header (tracemalloc: ~400 for an agent of 150 characters
and its Device, rounded up)."""

APP_TOKENS: dict[str, tuple[str, ...]] = {
    "Messenger": ("FBAN/Messenger", "FB_IAB/MESSENGER", "Orca-Android"),
    "Facebook": ("FBAN/", "FBAV/", "FB_IAB/", "FBIOS", "FB4A"),
    "Instagram": ("Instagram ",),
    "Zalo": ("Zalo ", "Zalo/", "ZaloTheme", "ZaloAndroid"),
    "TikTok": ("musical_ly", "BytedanceWebview", "TikTok", "trill_"),
    "LINE": ("Line/",),
    "X": ("Twitter for ", "TwitterAndroid"),
    "Snapchat": ("Snapchat/",),
    "Pinterest": ("[Pinterest/", "Pinterest for "),
    "LinkedIn": ("LinkedInApp",),
    "WeChat": ("MicroMessenger/",),
    "KakaoTalk": ("KAKAOTALK",),
}
"""In-app browsers, by a token their app adds to the WebView's agent; in order: the first app found
is the one. Messenger comes before Facebook, whose FBAV token its agents carry too. The names are
those of their sites in the referrer lists, so a reader an app sent with no referrer has one name."""
DEVICE_TOKENS: dict[str, tuple[str, ...]] = {
    "other": ("SMART-TV", "SmartTV", "Smart-TV", "TV Safari", "HbbTV", "GoogleTV", "Android TV", "BRAVIA", "AppleTV",
              "CrKey", "Roku", "Web0S", "webOS.TV", "NetCast", "PlayStation", "Xbox", "Nintendo", "Oculus"),
    "tablet": ("iPad", "Tablet", "PlayBook", "Kindle", "Silk/"),
    "mobile": ("Mobi", "iPhone", "iPod", "Windows Phone", "Opera Mini", "BlackBerry", "BB10", "KAIOS", "KaiOS",
               "Nokia", "Symbian", "Series40"),
    "android": ("Android",),
}
"""Device types by token: smart TVs, sticks, consoles and headsets are "other"; "Mobi" is the token
browsers agree on for phones (Mobile, Opera Mobi, IEMobile); an Android agent without one is a
tablet's (Chrome and Samsung Internet drop "Mobile" there)."""
MODEL_TOKENS = (
    (r"AFT[A-Z]{1,4}[ );]", "other"),                 # Amazon Fire TV sticks: AFTMM, AFTT...
    (r"KF[A-Z]{2,5}[ );]", "tablet"),                 # Amazon Fire tablets: KFTRWI...
    (r"Nexus (?:7|9|10)[ ;)]", "tablet"),
    (r"Tablet PC", "desktop"),                       # a Windows laptop's touch screen, not a tablet
)
TOKEN_KIND = {token: kind for kind, tokens in (*APP_TOKENS.items(), *DEVICE_TOKENS.items()) for token in tokens}
TOKENS = re.compile("|".join(
    [pattern for pattern, _ in MODEL_TOKENS] + sorted(map(re.escape, TOKEN_KIND), key=len, reverse=True)))
"""Every token above in one search (longest first, so FBAN/Messenger is not read as FBAN/): ~3 µs for
an agent of 200 characters, where a search per table took ~10 µs. No pattern starts with ``\\b``:
``re`` then steps through the agent several times slower."""
DESKTOP_OS = frozenset({"Windows", "macOS", "Linux", "Chrome OS", "FreeBSD", "OpenBSD", "NetBSD", "Solaris"})

BROWSERS = {
    "Chrome Mobile": "Chrome", "Chrome Mobile WebView": "Chrome", "Chrome Mobile iOS": "Chrome",
    "Mobile Safari": "Safari", "Mobile Safari UI/WKWebView": "Safari",
    "Firefox Mobile": "Firefox", "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "IE Mobile": "IE",
    "Coc Coc": "Cốc Cốc",
}
"""ua-parser's variants, as families."""
APP_BROWSERS = frozenset({
    "Facebook", "Instagram", "TikTok", "LINE", "Twitter", "Snapchat", "Pinterest", "LinkedIn", "WeChat",
    "KakaoTalk", "Mobile Safari UI/WKWebView", "Chrome Mobile WebView", "Zalo", "Messenger",
})
"""What ua-parser calls an app's WebView: counted under the engine it runs on."""
APPLE_ONLY_BROWSERS = frozenset({"Safari", "Apple Mail"})
"""ua-parser's fallbacks for any WebKit agent (a Samsung TV is "Safari", a PlayStation "Apple Mail")."""
APPLE_OS = frozenset({"iOS", "macOS"})

OS_NAMES = {
    "Mac OS X": "macOS", "Mac OS": "macOS", "Web0S": "webOS",
}
LINUXES = frozenset({
    "Ubuntu", "Kubuntu", "Xubuntu", "Lubuntu", "Debian", "Fedora", "Red Hat", "CentOS", "SUSE", "openSUSE",
    "Linux Mint", "Mint", "Arch Linux", "Gentoo", "Slackware", "Mandriva", "Mageia", "elementary OS",
    "PCLinuxOS", "Knoppix", "Puppy", "Manjaro",
})


@functools.cache
def _parser():
    """ua-parser with its best resolver (Rust when ua-parser-rs is installed), built once per process."""
    import ua_parser

    # Our own parser, not ua_parser.parse: that one wraps the resolver in a cache of its own,
    # bounded in entries, which would hold every agent a second time.
    matchers = ua_parser.load_lazy_builtins() if ua_parser.RegexResolver else ua_parser.load_builtins()
    return ua_parser.Parser(ua_parser.BestAvailableResolver(matchers))


def _family(name: str | None) -> str:
    """A family name as we keep it: ua-parser's, unless it is unknown, too long or not plain text."""
    if not name or name == "Other" or len(name) > MAX_NAME_CHARS or not name.isprintable():
        return "Other"
    return name


def os_family(name: str | None) -> str:
    """ua-parser's OS name as a family: macOS, Linux for its distributions, Windows for its versions."""
    name = _family(name)
    if name in LINUXES:
        return "Linux"
    if name.startswith("Windows") and name not in ("Windows Phone", "Windows Mobile", "Windows CE"):
        return "Windows"
    return OS_NAMES.get(name, name)


def browser_family(name: str | None, os: str) -> str:
    """ua-parser's browser name as a family; an app's WebView as the engine it runs on."""
    name = _family(name)
    if name in APP_BROWSERS:
        return "Safari" if os == "iOS" else "Chrome" if os == "Android" else "Other"
    if name in APPLE_ONLY_BROWSERS and os not in APPLE_OS:
        return "Other"
    return BROWSERS.get(name, name)


def token_kinds(agent: str) -> set[str]:
    """The apps and device types the agent's tokens name."""
    kinds = set()
    for token in TOKENS.findall(agent):
        kind = TOKEN_KIND.get(token)
        if kind is None:
            kind = next(kind for pattern, kind in MODEL_TOKENS if re.match(pattern, token))
        kinds.add(kind)
    return kinds


def in_app(kinds: set[str]) -> str:
    """The app whose in-app browser sent an agent with these token kinds, or 'none'."""
    if kinds:
        for name in APP_TOKENS:
            if name in kinds:
                return name
    return "none"


def device_type(kinds: set[str], os: str) -> str:
    """'desktop', 'mobile', 'tablet' or 'other', from an agent's token kinds and its OS family."""
    if "other" in kinds:
        return "other"
    if "tablet" in kinds:
        return "tablet"
    if "mobile" in kinds or os in ("iOS", "Windows Phone"):
        return "mobile"
    if "android" in kinds or os == "Android":
        return "tablet"
    if os in DESKTOP_OS:
        return "desktop"
    return "other"


def parse(agent: str) -> Device:
    """Classify one User-Agent, uncached: ~20 µs with the Rust resolver (ua-parser ~13, our tokens ~4)."""
    from ua_parser import Domain

    if not agent:
        return UNKNOWN
    result = _parser()(agent, Domain.USER_AGENT | Domain.OS)
    os = os_family(result.os.family if result.os else None)
    if "iPad" in agent and os == "macOS":
        os = "iOS"  # an iPad app's WebView in desktop mode that still names the iPad (FBMD/iPad)
    browser = browser_family(result.user_agent.family if result.user_agent else None, os)
    kinds = token_kinds(agent)
    return Device(device_type(kinds, os), browser, os, in_app(kinds))


def _agent_bytes(agent: str, device: Device) -> int:
    return len(agent) + sum(map(len, device)) + AGENT_ENTRY_OVERHEAD_BYTES


_cache: TtlCache[Device] = TtlCache(float("inf"), max_entries=1_000_000, max_bytes=AGENT_CACHE_MAX_BYTES,
                                    size_of=_agent_bytes)


NUMBERS = re.compile(r"\d+")
"""Digit runs of an agent: versions, builds, models' numbers. The families named here never depend on
them, so agents that differ only in their numbers share one cache entry: the long tail of versions
(and an in-app browser's build, appended per install) costs one parse per shape, not per agent."""
DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
"""The same for an ASCII agent (what browsers send), 20 times faster than the regex (0.1 µs, not 2.3):
every digit a 0, so digit runs of different lengths make different shapes (Chrome/99, Chrome/131)."""


def shape_of(agent: str) -> str | bytes:
    """The agent with its numbers blanked: the cache key of its Device."""
    return agent.encode().translate(DIGITS_TO_ZERO) if agent.isascii() else NUMBERS.sub("0", agent)


def classify_device(user_agent: str) -> Device:
    """Device, browser, OS and app of a User-Agent: parsed once per shape (its digits aside), then a lookup."""
    agent = user_agent[:MAX_AGENT_CHARS].strip()
    shape = shape_of(agent)
    device = _cache.get(shape)
    if device is None:
        device = parse(agent)
        _cache.put(shape, device)
    return device
