"""Who is looking at the dashboard: the signed session cookie, its lifetime and its CSRF token."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from ..access import Principal

SESSION_COOKIE = "va_session"
"""The signed session: who (admin, or one share of one site), since when, and its CSRF token."""
PRESESSION_COOKIE = "va_signin"
"""A signed random token the sign-in form must echo (login CSRF), before any session exists."""
LANG_COOKIE = "va_lang"
LANG_COOKIE_DAYS = 365
KEY_LABEL = b"visitor-analytics dashboard session key v1"
"""Fixed label of the key derived from ADMIN_TOKEN when SECRET_KEY is unset."""
ADDRESS_LABEL = b"visitor-analytics sign-in address v1"


def signing_key(settings) -> bytes | None:
    """SECRET_KEY, or else an HMAC of ADMIN_TOKEN: every worker derives the same, and a new token
    signs everyone out; None when neither is set (the dashboard is then off)."""
    if settings.SECRET_KEY:
        return settings.SECRET_KEY.encode()
    if settings.ADMIN_TOKEN:
        return hmac.new(settings.ADMIN_TOKEN.encode(), KEY_LABEL, hashlib.sha256).digest()
    return None


def hashed_address(key: bytes, address: str) -> str:
    """A client address as the sign-in limit stores it: keyed, so Redis never holds the address."""
    return hmac.new(key, ADDRESS_LABEL + b"\0" + address.encode(), hashlib.sha256).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Viewer:
    """A signed-in dashboard user: the admin, or a read-only viewer of one site through a share."""

    role: str
    """'admin' or 'share'."""
    issued: int
    """Unix seconds of the sign-in (the service's clock)."""
    csrf: str
    site: str = ""
    share: str = ""

    @property
    def principal(self) -> Principal:
        """Who this session is, for service/access.py to decide what it may see."""
        return Principal.operator() if self.role == "admin" else Principal.share_of(self.site, self.share)

    @property
    def is_admin(self) -> bool:
        return self.principal.is_operator

    def as_payload(self) -> dict:
        return {"r": self.role, "t": self.issued, "c": self.csrf, "s": self.site, "i": self.share}


def new_viewer(now: datetime, site: str = "", share: str = "") -> Viewer:
    """A fresh session (a new CSRF token each sign-in)."""
    return Viewer("share" if share else "admin", int(now.timestamp()), secrets.token_urlsafe(24), site, share)


class Sessions:
    """Sign and read the session cookie; a session older than its lifetime is no session."""

    def __init__(self, key: bytes, lifetime_seconds: float):
        self.lifetime_seconds = lifetime_seconds
        self._session = URLSafeSerializer(key, salt="dashboard-session")
        self._presession = URLSafeSerializer(key, salt="dashboard-signin-form")

    def dump(self, viewer: Viewer) -> str:
        return self._session.dumps(viewer.as_payload())

    def load(self, cookie: str | None, now: datetime) -> Viewer | None:
        """The viewer a cookie names, or None (missing, forged, malformed or expired)."""
        if not cookie or len(cookie) > 1000:
            return None
        try:
            data = self._session.loads(cookie)
            viewer = Viewer(str(data["r"]), int(data["t"]), str(data["c"]), str(data["s"]), str(data["i"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        age = now.timestamp() - viewer.issued
        if viewer.role not in ("admin", "share") or viewer.role == "share" and not viewer.share:
            return None
        if age < -60 or age >= self.lifetime_seconds:  # a clock a minute behind is tolerated
            return None
        return viewer

    def new_form_token(self) -> tuple[str, str]:
        """(value for the form, value for the pre-session cookie)."""
        token = secrets.token_urlsafe(24)
        return token, self._presession.dumps(token)

    def form_token_matches(self, cookie: str | None, given: str | None) -> bool:
        """Tell whether the sign-in form's token is the one its pre-session cookie carries."""
        if not cookie or not given or len(cookie) > 200:
            return False
        try:
            expected = self._presession.loads(cookie)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(expected.encode(), given.encode())
