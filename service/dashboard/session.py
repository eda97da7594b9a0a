"""Who is looking at the dashboard: the signed session cookie, its lifetime and its CSRF token."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from datetime import datetime, timezone

from itsdangerous import BadSignature, URLSafeSerializer

from ..access import Action, Principal
from ..model.visitor import client_of

SESSION_COOKIE = "va_session"
"""Names a session kept in Redis (signed): its id, role and credential; the rest is on the server."""
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
    return hmac.new(key, ADDRESS_LABEL + b"\0" + client_of(address).encode(), hashlib.sha256).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Viewer:
    """A signed-in dashboard user: the operator, a site token's holder, or a read-only viewer of one
    site through a share. The cookie names the session; the session lives in Redis (so it can end)."""

    role: str
    """'admin', 'token' or 'share'."""
    issued: int
    """Unix seconds of the sign-in (the service's clock)."""
    csrf: str
    site: str = ""
    """The share's site."""
    credential: str = ""
    """The share's or the token's id: revoking it ends the session."""
    session: str = ""
    """The server-side session's id."""
    sites: tuple[str, ...] = ()
    """A token's sites, as the token lists them now."""
    label: str = ""
    """The token's or the share's label (who is signed in)."""

    @property
    def principal(self) -> Principal:
        """Who this session is, for service/access.py to decide what it may see."""
        if self.role == "admin":
            return Principal.operator()
        if self.role == "token":
            return Principal.site_token(self.credential, self.sites)
        return Principal.share_of(self.site, self.credential)

    @property
    def is_admin(self) -> bool:
        return self.principal.is_operator

    @property
    def has_overview(self) -> bool:
        """It may see the table of sites (the operator: all; a token: its own)."""
        return self.principal.may(Action.OPERATOR_SCREEN)

    @property
    def credential_ref(self) -> tuple[str, str] | None:
        """What to read with the session to know its credential still stands."""
        if self.role == "token":
            return "token", self.credential
        if self.role == "share":
            return "share", f"{self.site}:{self.credential}"
        return None


def new_viewer(now: datetime, site: str = "", share: str = "", token: str = "", sites=(), label: str = "") -> Viewer:
    """A fresh session (a new id and CSRF token each sign-in)."""
    role = "share" if share else "token" if token else "admin"
    return Viewer(role, int(now.timestamp()), secrets.token_urlsafe(24), site, share or token,
                  secrets.token_urlsafe(18), tuple(sites), label)


def admin_fingerprint(settings) -> str:
    """A digest of ADMIN_TOKEN kept with operator sessions: a changed or removed token ends them."""
    token = settings.ADMIN_TOKEN
    return hmac.new(b"visitor-analytics operator sessions v1", token.encode(), hashlib.sha256).hexdigest()[:32] \
        if token else ""


class Sessions:
    """Sign the session cookie (it names a session kept in Redis) and the sign-in form's token."""

    def __init__(self, key: bytes, lifetime_seconds: float):
        self.lifetime_seconds = lifetime_seconds
        self._session = URLSafeSerializer(key, salt="dashboard-session-v2")
        self._presession = URLSafeSerializer(key, salt="dashboard-signin-form")

    def dump(self, viewer: Viewer) -> str:
        return self._session.dumps({"i": viewer.session, "r": viewer.role, "c": viewer.credential, "s": viewer.site})

    def record(self, viewer: Viewer, settings) -> dict:
        """What Redis keeps of a session."""
        return {"role": viewer.role, "credential": viewer.credential, "site": viewer.site, "csrf": viewer.csrf,
                "sites": list(viewer.sites) if viewer.role == "token" else ([viewer.site] if viewer.site else None),
                "label": viewer.label, "issued": viewer.issued,
                "started": datetime.fromtimestamp(viewer.issued, timezone.utc).isoformat(timespec="seconds"),
                "ends": datetime.fromtimestamp(viewer.issued + self.lifetime_seconds, timezone.utc)
                .isoformat(timespec="seconds"),
                "admin": admin_fingerprint(settings) if viewer.role == "admin" else ""}

    def read_cookie(self, cookie: str | None) -> Viewer | None:
        """The session a cookie names (still to be checked against Redis), or None if forged or malformed."""
        if not cookie or len(cookie) > 1000:
            return None
        try:
            data = self._session.loads(cookie)
            viewer = Viewer(str(data["r"]), 0, "", str(data["s"]), str(data["c"]), str(data["i"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        if viewer.role not in ("admin", "token", "share") or not viewer.session or len(viewer.session) > 64:
            return None
        if viewer.role != "admin" and not viewer.credential:
            return None
        return viewer

    def check(self, named: Viewer, record: dict | None, credential: dict | None, settings, now: datetime) -> Viewer | None:
        """The viewer if the session Redis keeps still stands: not ended, not expired, and made with a
        credential that still stands (the operator's token unchanged; the share or token not revoked)."""
        if record is None or record.get("role") != named.role or record.get("credential", "") != named.credential:
            return None
        age = now.timestamp() - int(record.get("issued", 0))
        if age < -60 or age >= self.lifetime_seconds:  # a clock a minute behind is tolerated
            return None
        if named.role == "admin":
            fingerprint = admin_fingerprint(settings)
            if not fingerprint or not hmac.compare_digest(fingerprint, record.get("admin", "")):
                return None
        elif credential is None or (credential.get("expires")
                                    and datetime.fromisoformat(credential["expires"]) <= now):
            return None
        sites = tuple(credential.get("sites", ())) if named.role == "token" else ()
        label = credential.get("label", "") if credential else ""
        return dataclasses.replace(named, issued=int(record["issued"]), csrf=str(record.get("csrf", "")),
                                   sites=sites, label=label)

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
