"""Settings from environment variables, validated once at start-up."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .ops.redact import redact

REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster", "redis+sentinel",
                 "rediss+sentinel")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


ADMIN_TOKEN_MIN_LENGTH = 32
"""Shortest admin token accepted, in characters (secrets.token_urlsafe(32) gives 43)."""
ADMIN_TOKEN_MIN_BITS = 100
"""Least strength of ADMIN_TOKEN, estimated as length x log2(distinct characters): 32 random hex
digits give 128, secrets.token_urlsafe(32) about 240, 32 times the same letter 0."""
ADMIN_TOKEN_PLACEHOLDER = "change-me-to-a-long-random-string"
"""The value .env.example ships: refused, so a copied example never guards a real admin API."""
MAKE_A_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
SECRET_SETTINGS = frozenset({"ADMIN_TOKEN", "SECRET_KEY"})
"""Settings whose value no message repeats (only its length): a wrong one may still be a real secret."""


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every knob of the service; each field is also an environment variable."""

    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    """Where the counters live: redis://, rediss://, unix:// (socket), redis+cluster://host:port,...
    (Redis Cluster) or redis+sentinel://host:port,.../mastername (Sentinel)."""

    ADMIN_TOKEN: str = ""
    """Bearer token for the admin API, at least 32 characters; empty disables admin calls (403)."""

    ONLINE_WINDOW_SECONDS: int = 300
    """A visitor counts as online for this long after their last hit or ping."""

    VISIT_TIMEOUT_SECONDS: int = 1800
    """A hit after this long without hits starts a new visit (sliding session)."""

    DEFAULT_TIMEZONE: str = "Asia/Ho_Chi_Minh"
    """IANA zone of a site registered without one: decides where 'today' starts."""

    WEEK_START: str = "monday"
    """First day of 'this week', a weekday name."""

    TRUSTED_PROXIES: int = 0
    """Proxy hops in front of the service whose X-Forwarded-For is believed."""

    COUNTERS_CACHE_SECONDS: float = 5.0
    """In-process cache lifetime of a counters answer, also its Cache-Control max-age."""

    READ_CACHE_MAX_BYTES: int = 16 * 1024 * 1024
    """In-process budget of each read cache (counters answers; pages and most-read answers), in bytes
    per worker: answers are held as JSON text and the oldest go once they pass it."""

    SITE_CACHE_SECONDS: float = 5.0
    """In-process cache lifetime of a site's settings: changes reach every worker within it."""

    VISITOR_HITS_PER_MINUTE: int = 60
    """Hits of one visitor beyond this in one minute are not counted (refresh floods)."""

    IP_HITS_PER_MINUTE: int = 3000
    """Hits one client address may send to one site in a minute before 429 (0: no limit).
    Generous on purpose: a whole provincial department may share one address."""

    REDIS_TIMEOUT_SECONDS: float = 0.25
    """Connect and read timeout of every Redis call, so a hit never waits long."""

    FLUSH_INTERVAL_MS: int = 20
    """Above 0: answer at once and write buffered hits in one round trip per batch every this
    many ms (the write leaves the request: bench/); 0: write each hit before answering, so
    X-Not-Counted also reports rate_limited (the buffer is then used only while Redis is away)."""

    PAGES_PER_DAY: int = 50_000
    """Distinct pages one site counts per page in a local day; pageviews of further new pages
    count in the site's numbers only (a flood of invented URLs cannot grow Redis without bound)."""
    SOURCES_PER_DAY: int = 1_000
    """Distinct source names (and as many browser and OS names) one site keeps per local day; past it
    a visit counts under '(other)' in its channel ('Other' for browsers and OS)."""
    DETAIL_DAYS: int = 400
    """Days a local day's sources and devices are kept after it ends (the year view reads them)."""
    PAGES_ALL_TIME: int = 200_000
    """Pages one site keeps all time, with their views, titles and links; past it the least-viewed
    go (a page is never pushed out by pages with fewer views)."""

    MAX_BUFFERED_HITS: int = 100_000
    """Hits one worker keeps while Redis is away; beyond it new hits are dropped (and counted)."""

    JOURNAL_DIR: str = "data/journal"
    """Where a worker stopping while Redis is away spills its buffer; the next start replays it."""

    SECRET_KEY: str = ""
    """Signs the dashboard's session cookies, at least 32 characters; empty: derived from ADMIN_TOKEN
    (HMAC with a fixed label), so every worker agrees and changing the token signs everyone out."""

    DASHBOARD_SESSION_HOURS: float = 12.0
    """How long a dashboard sign-in (admin token or share link) lasts."""

    DASHBOARD_SIGNIN_PER_MINUTE: int = 10
    """Sign-in attempts one client address may make in a minute; further ones are refused (429)."""
    AUTH_FAILURES_PER_MINUTE: int = 10
    """Failed bearer-token or sign-in attempts one client address may make in a minute, across every
    worker and instance; after them every attempt from it answers 429 until the minute is over."""

    METRICS_ALLOW: str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
    """Client networks (comma-separated CIDR blocks) that may read /metrics and the details of /readyz
    (Redis errors, buffered hits, site ids); the operator's bearer token (ADMIN_TOKEN) may too, from
    anywhere. The default is loopback and the private ranges, where compose's Prometheus and
    blackbox exporter scrape the app (with no X-Forwarded-For); readers behind a proxy are seen at
    their own address (TRUSTED_PROXIES). Empty: the token only."""

    ACCESS_LOG: int = 0
    """1: log one JSON line per request at INFO (request id, route, status, duration)."""

    LOG_LEVEL: str = "INFO"
    """Python logging level name."""

    CONFIRM_REPLICAS: int = 1
    """With redis+sentinel://, replicas that must confirm a batch (Redis WAIT) before it counts as
    written; fewer while Sentinel sees fewer replicas up; 0: the master's reply is enough."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read every field from the environment, keeping defaults for the unset ones."""
        environ = os.environ if environ is None else environ
        values = {f.name: environ[f.name] for f in dataclasses.fields(cls) if f.name in environ}
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: dict) -> Settings:
        """Build validated settings from strings or typed values."""
        converted = {}
        for field in dataclasses.fields(cls):
            if field.name not in values:
                continue
            raw = values[field.name]
            try:
                converted[field.name] = _convert(field, raw)
            except (TypeError, ValueError) as exc:
                raise SettingsError(redact(f"{_shown(field.name, raw)}: {exc}")) from None
        settings = cls(**converted)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise SettingsError with a readable message for a value out of range."""
        def need(ok: bool, name: str, why: str) -> None:
            if not ok:
                raise SettingsError(redact(f"{_shown(name, getattr(self, name))}: {why}"))

        need(self.REDIS_URL.split("://")[0] in REDIS_SCHEMES, "REDIS_URL",
             "must start with " + ", ".join(f"{s}://" for s in REDIS_SCHEMES))
        need(not self.REDIS_URL.split("://")[0].endswith("sentinel") or
             len([p for p in self.REDIS_URL.split("://", 1)[1].split("/")[1:] if p]) >= 1,
             "REDIS_URL", "a sentinel URL names the master: redis+sentinel://host:26379/mymaster")
        self._validate_admin_token()
        need(1 <= self.ONLINE_WINDOW_SECONDS <= 86400, "ONLINE_WINDOW_SECONDS", "must be 1 to 86400 seconds")
        need(1 <= self.VISIT_TIMEOUT_SECONDS <= 86400, "VISIT_TIMEOUT_SECONDS", "must be 1 to 86400 seconds")
        try:
            ZoneInfo(self.DEFAULT_TIMEZONE)
        except (ZoneInfoNotFoundError, ValueError):
            need(False, "DEFAULT_TIMEZONE", "is not an IANA time zone (e.g. Asia/Ho_Chi_Minh)")
        need(self.WEEK_START in WEEKDAYS, "WEEK_START", f"must be one of {', '.join(WEEKDAYS)}")
        need(0 <= self.TRUSTED_PROXIES <= 10, "TRUSTED_PROXIES", "must be 0 to 10 proxy hops")
        need(0 <= self.COUNTERS_CACHE_SECONDS <= 3600, "COUNTERS_CACHE_SECONDS", "must be 0 to 3600")
        need(64 * 1024 <= self.READ_CACHE_MAX_BYTES <= 4 * 1024**3, "READ_CACHE_MAX_BYTES",
             "must be 65536 to 4294967296 bytes")
        need(0 <= self.SITE_CACHE_SECONDS <= 3600, "SITE_CACHE_SECONDS", "must be 0 to 3600")
        need(self.VISITOR_HITS_PER_MINUTE >= 1, "VISITOR_HITS_PER_MINUTE", "must be at least 1")
        need(self.IP_HITS_PER_MINUTE >= 0, "IP_HITS_PER_MINUTE", "must be 0 (no limit) or more")
        need(0 < self.REDIS_TIMEOUT_SECONDS <= 30, "REDIS_TIMEOUT_SECONDS", "must be above 0 and at most 30")
        need(0 <= self.FLUSH_INTERVAL_MS <= 10_000, "FLUSH_INTERVAL_MS", "must be 0 to 10000 ms")
        need(1 <= self.PAGES_PER_DAY <= 10_000_000, "PAGES_PER_DAY", "must be 1 to 10000000")
        need(100 <= self.PAGES_ALL_TIME <= 10_000_000, "PAGES_ALL_TIME", "must be 100 to 10000000")
        need(10 <= self.SOURCES_PER_DAY <= 100_000, "SOURCES_PER_DAY", "must be 10 to 100000")
        need(1 <= self.DETAIL_DAYS <= 3660, "DETAIL_DAYS", "must be 1 to 3660")
        need(100 <= self.MAX_BUFFERED_HITS <= 10_000_000, "MAX_BUFFERED_HITS", "must be 100 to 10000000")
        need(not self.SECRET_KEY or len(self.SECRET_KEY) >= 32, "SECRET_KEY",
             f"must be at least 32 characters; make one with: {MAKE_A_TOKEN}")
        need(0 < self.DASHBOARD_SESSION_HOURS <= 24 * 90, "DASHBOARD_SESSION_HOURS", "must be above 0 and at most 2160")
        need(1 <= self.DASHBOARD_SIGNIN_PER_MINUTE <= 10_000, "DASHBOARD_SIGNIN_PER_MINUTE", "must be 1 to 10000")
        need(1 <= self.AUTH_FAILURES_PER_MINUTE <= 10_000, "AUTH_FAILURES_PER_MINUTE", "must be 1 to 10000")
        try:
            self.metrics_networks
        except ValueError as exc:
            need(False, "METRICS_ALLOW", f"must be comma-separated CIDR blocks, e.g. 127.0.0.0/8,10.0.0.0/8 ({exc})")
        need(self.ACCESS_LOG in (0, 1), "ACCESS_LOG", "must be 0 or 1")
        need(self.LOG_LEVEL.upper() in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
             "LOG_LEVEL", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        need(0 <= self.CONFIRM_REPLICAS <= 16, "CONFIRM_REPLICAS", "must be 0 to 16 replicas")

    def _validate_admin_token(self) -> None:
        """Refuse a guessable admin token (the message never repeats it: it may be a real secret)."""
        token = self.ADMIN_TOKEN
        if not token:
            return
        if token == ADMIN_TOKEN_PLACEHOLDER:
            why = "is still the placeholder of .env.example"
        elif len(token) < ADMIN_TOKEN_MIN_LENGTH:
            why = f"is {len(token)} characters long, under the {ADMIN_TOKEN_MIN_LENGTH} required"
        elif estimated_bits(token) < ADMIN_TOKEN_MIN_BITS:
            why = (f"is too predictable (about {estimated_bits(token):.0f} bits: too few distinct characters), "
                   f"under the {ADMIN_TOKEN_MIN_BITS} required")
        else:
            return
        raise SettingsError(f"ADMIN_TOKEN {why}; make one with: {MAKE_A_TOKEN} "
                            "(or leave it empty to turn the admin API off)")

    @property
    def week_start_index(self) -> int:
        """Monday is 0, as in date.weekday()."""
        return WEEKDAYS.index(self.WEEK_START)

    @property
    def metrics_networks(self) -> tuple:
        """METRICS_ALLOW as ip_network values."""
        return tuple(ipaddress.ip_network(block.strip(), strict=False)
                     for block in self.METRICS_ALLOW.split(",") if block.strip())

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _shown(name: str, value) -> str:
    """``NAME=value`` for a message; a secret setting shows its length only."""
    if name in SECRET_SETTINGS:
        return f"{name} (a value of {len(str(value))} characters, not shown)"
    return f"{name}={value!r}"


def _convert(field: dataclasses.Field, raw):
    kind = {"int": int, "float": float, "str": str}[field.type]
    if kind is str:
        value = str(raw).strip()
        return value.lower() if field.name == "WEEK_START" else value
    if isinstance(raw, str):
        raw = raw.strip()
    if kind is int and isinstance(raw, float) and not raw.is_integer():
        raise ValueError("must be a whole number")
    return kind(raw)


def estimated_bits(secret: str) -> float:
    """An upper estimate of a secret's strength in bits: its length times log2 of its distinct characters."""
    distinct = len(set(secret))
    return len(secret) * math.log2(distinct) if distinct > 1 else 0.0
