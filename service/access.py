"""Who is asking and what they may do: the one place that decides access, for the API and the dashboard.

A request carries at most one credential, turned into a ``Principal`` here: the operator's
token (``ADMIN_TOKEN``), or a share link's session (read-only, one site). Routes and screens
never compare tokens or roles themselves: they ask ``require(principal, action, site)``.
A new kind of credential is a new ``Role``, a line in ``GRANTS`` and the code that
recognises it (``from_bearer`` / ``from_signin``); nothing else changes.
"""

from __future__ import annotations

import enum
import hmac
from typing import NamedTuple

from .errors import AdminDisabled, Forbidden, Unauthorized

MAX_TOKEN_CHARS = 1000
"""Longer bearer tokens or sign-in entries are refused unread."""


class Role(enum.StrEnum):
    OPERATOR = "operator"
    """Holds ADMIN_TOKEN: may do everything, on every site."""
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
    OPERATOR_SCREEN = "operator_screen"
    """The dashboard's table of every site."""


GRANTS: dict[Role, frozenset[Action]] = {
    Role.OPERATOR: frozenset(Action),
    Role.SHARE: frozenset({Action.READ_SITE}),
}
"""What each role may do; site-scoped roles only on their own sites."""


class Principal(NamedTuple):
    """The one who asks: a role, and the sites it is limited to (None: every site)."""

    role: Role
    sites: frozenset[str] | None = None
    share: str = ""
    """The share link's id, for a share session."""

    @classmethod
    def operator(cls) -> Principal:
        return cls(Role.OPERATOR)

    @classmethod
    def share_of(cls, site_id: str, share_id: str) -> Principal:
        return cls(Role.SHARE, frozenset({site_id}), share_id)

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def may(self, action: Action, site_id: str | None = None) -> bool:
        """Tell whether this principal may do ``action`` (on ``site_id`` for a site's action)."""
        if action not in GRANTS[self.role]:
            return False
        return self.sites is None or (site_id is not None and site_id in self.sites)


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


def from_bearer(settings, authorization: str) -> Principal:
    """The principal of an ``Authorization: Bearer`` header, or AdminDisabled (403) / Unauthorized (401)."""
    if not settings.ADMIN_TOKEN:
        raise AdminDisabled("admin API is disabled: set ADMIN_TOKEN to enable it")
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() == "bearer" and operator_token_matches(settings, given):
        return Principal.operator()
    raise Unauthorized("missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})


def from_signin(settings, given: str) -> Principal | None:
    """The principal that the dashboard's sign-in form's token names, or None."""
    return Principal.operator() if operator_token_matches(settings, given) else None
