"""Who is asking and what they may do: the one place that decides access, for the API and the dashboard.

A request carries at most one credential, turned into a ``Principal`` here: the operator's
token (``ADMIN_TOKEN``), a site token (the operator makes it for some sites), or a share
link's session (read-only, one site). Routes and screens never compare tokens or roles
themselves: they ask ``require(principal, action, site)``. A new kind of credential is a new
``Role``, a line in ``GRANTS`` and the code that recognises it (``identify``); nothing else
changes. Guessing is slowed here too: a client address with AUTH_FAILURES_PER_MINUTE failed
attempts in a minute is refused (429) until the minute ends, on every worker and instance.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from datetime import datetime
from typing import NamedTuple

from .errors import AdminDisabled, Forbidden, TooManyRequests, Unauthorized
from .model import tokens
from .model.visitor import client_of
from .ops import metrics

MAX_TOKEN_CHARS = 1000
"""Longer bearer tokens or sign-in entries are refused unread."""


class Role(enum.StrEnum):
    OPERATOR = "operator"
    """Holds ADMIN_TOKEN: may do everything, on every site."""
    SITE_TOKEN = "site_token"
    """Holds a site token: may read and import for its own sites, and share them."""
    SHARE = "share"
    """Opened a share link: may read one site's dashboard."""


class Action(enum.StrEnum):
    READ_SITE = "read_site"
    """A site's settings, counters, history, not-counted tally and dashboard screen."""
    SET_BASELINES = "set_baselines"
    """A site's baseline and page baselines."""
    MANAGE_SHARES = "manage_shares"
    """Create, list and revoke a site's share links."""
    MANAGE_SITES = "manage_sites"
    """Create, change, delete and list sites (any site)."""
    LIST_SITES = "list_sites"
    """List sites (a site-scoped principal sees its own only)."""
    MANAGE_CREDENTIALS = "manage_credentials"
    """Create, list and revoke site tokens; list and end dashboard sessions."""
    OPERATOR_SCREEN = "operator_screen"
    """The dashboard's table of sites (a site token's shows its own)."""


UNSCOPED = frozenset({Action.LIST_SITES, Action.OPERATOR_SCREEN})
"""Actions a site-scoped principal takes without naming a site (it then sees its own sites only)."""

GRANTS: dict[Role, frozenset[Action]] = {
    Role.OPERATOR: frozenset(Action),
    Role.SITE_TOKEN: frozenset({Action.READ_SITE, Action.SET_BASELINES, Action.MANAGE_SHARES, Action.LIST_SITES,
                                Action.OPERATOR_SCREEN}),
    Role.SHARE: frozenset({Action.READ_SITE}),
}
"""What each role may do; site-scoped roles only on their own sites."""


class Principal(NamedTuple):
    """The one who asks: a role, and the sites it is limited to (None: every site)."""

    role: Role
    sites: frozenset[str] | None = None
    credential: str = ""
    """The share link's or site token's id (what revoking ends)."""

    @classmethod
    def operator(cls) -> Principal:
        return cls(Role.OPERATOR)

    @classmethod
    def share_of(cls, site_id: str, share_id: str) -> Principal:
        return cls(Role.SHARE, frozenset({site_id}), share_id)

    @classmethod
    def site_token(cls, token_id: str, sites) -> Principal:
        return cls(Role.SITE_TOKEN, frozenset(sites), token_id)

    def visible(self, site_ids):
        """The ids among ``site_ids`` this principal may see, in their order."""
        return [s for s in site_ids if self.sites is None or s in self.sites]

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def may(self, action: Action, site_id: str | None = None) -> bool:
        """Tell whether this principal may do ``action`` (on ``site_id`` for a site's action)."""
        if action not in GRANTS[self.role]:
            return False
        return self.sites is None or site_id is None and action in UNSCOPED or site_id in (self.sites or ())


def require(principal: Principal, action: Action, site_id: str | None = None) -> None:
    """Raise Forbidden (403) unless ``principal`` may do ``action``: the same for a site that exists and one that does not."""
    if not principal.may(action, site_id):
        raise Forbidden("this credential may not do that")


def operator_token_matches(settings, given: str) -> bool:
    """Compare ``given`` with ADMIN_TOKEN in constant time (False when none is configured)."""
    token = settings.ADMIN_TOKEN
    given = given.strip()
    if not token or not given or len(given) > MAX_TOKEN_CHARS:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def identify(settings, store, given: str, now: datetime) -> Principal | None:
    """The principal a secret names (the operator's token or a live site token), or None."""
    given = given.strip()
    if operator_token_matches(settings, given):
        return Principal.operator()
    parts = tokens.split_token(given) if len(given) <= MAX_TOKEN_CHARS else None
    if parts is None:
        return None
    record = store.get_token(parts[0])
    if record is None or not tokens.key_matches(record, parts[1]) or tokens.expired(record, now):
        return None
    note_used(store, parts[0], now)
    return Principal.site_token(parts[0], record.get("sites", []))


_LAST_NOTED: dict[str, float] = {}


def note_used(store, token_id: str, now: datetime) -> None:
    """Record when a token was last used, at most hourly per process (never a write per request)."""
    moment = now.timestamp()
    if moment - _LAST_NOTED.get(token_id, 0) >= tokens.LAST_USED_EVERY_SECONDS:
        if len(_LAST_NOTED) > tokens.MAX_TOKENS:
            _LAST_NOTED.clear()
        _LAST_NOTED[token_id] = moment
        store.token_used(token_id, now.isoformat(timespec="seconds"))


def still_valid(principal: Principal, credential: dict | None, now: datetime) -> bool:
    """Tell whether a session's credential (a share's or token's record, read now) still stands."""
    if principal.role is Role.OPERATOR:
        return True
    if credential is None:
        return False
    expired = bool(credential.get("expires")) and datetime.fromisoformat(credential["expires"]) <= now
    return not expired


def address_key(settings, address: str) -> str:
    """A client address as the attempt counters store it: keyed, so Redis never holds the address."""
    secret = (settings.SECRET_KEY or settings.ADMIN_TOKEN or "visitor-analytics").encode()
    return hmac.new(secret, b"auth-failures\0" + client_of(address).encode(), hashlib.sha256).hexdigest()[:32]


def refuse_if_guessing(settings, store, address: str, now: datetime) -> None:
    """429 with Retry-After while an address is past AUTH_FAILURES_PER_MINUTE failures this minute."""
    if store.auth_failures(address_key(settings, address), now) >= settings.AUTH_FAILURES_PER_MINUTE:
        raise TooManyRequests("too many failed attempts from this address: try again next minute",
                              **{"Retry-After": str(60 - int(now.timestamp()) % 60)})


def failed(settings, store, address: str, now: datetime, where: str) -> None:
    """Count one failed attempt of an address (shared by every worker and instance) and in the metric."""
    metrics.AUTH_FAILURES.labels(where=where).inc()
    store.count_auth_failure(address_key(settings, address), now)


def from_bearer(settings, store, authorization: str, address: str, now: datetime) -> Principal:
    """The principal of an ``Authorization: Bearer`` header: 429 while the address is guessing, 403 with
    no ADMIN_TOKEN configured and no live site token given, 401 for a missing or wrong one."""
    refuse_if_guessing(settings, store, address, now)
    scheme, _, given = authorization.partition(" ")
    given = given.strip() if scheme.lower() == "bearer" else ""
    principal = identify(settings, store, given, now) if given else None
    if principal is not None:
        return principal
    if given:  # a credential that opens nothing: a guess, or a revoked or expired token
        failed(settings, store, address, now, "bearer")
    if not settings.ADMIN_TOKEN:
        raise AdminDisabled("admin API is disabled: set ADMIN_TOKEN to enable it")
    raise Unauthorized("missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
