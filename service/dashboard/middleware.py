"""Around every dashboard request: the reader's language and session in, strict headers out, errors as pages."""

from __future__ import annotations

import hmac

from flask import Response, abort, g, redirect, render_template, request, url_for

from .. import access
from ..access import Action
from ..context import clock, lookup_site, settings, store
from ..errors import ApiError, RedisReplyError, StorageUnavailable, UnknownSite
from ..model.periods import DETAIL_PERIODS
from ..model.sites import valid_site_id
from . import bp, report
from .i18n import DEFAULT_LANGUAGE, LANGUAGES, Words
from .session import LANG_COOKIE, LANG_COOKIE_DAYS, PRESESSION_COOKIE, SESSION_COOKIE, Sessions, Viewer, signing_key

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
"""Every dashboard answer's Content-Security-Policy: our own files only, no inline script or style."""

class Refused(Exception):
    """Answer the sign-in form again with a message (and a status)."""

    def __init__(self, status: int, words: str, **headers):
        super().__init__(words)
        self.status, self.words, self.headers = status, words, headers


def sessions() -> Sessions | None:
    key = signing_key(settings())
    return Sessions(key, settings().DASHBOARD_SESSION_HOURS * 3600) if key else None


@bp.before_request
def who_is_it():
    """Read the language and the session: one that was ended, or whose share or token was revoked or
    has expired, or an operator's after ADMIN_TOKEN changed, is no session."""
    asked = request.args.get("lang")
    g.lang = asked if asked in LANGUAGES else request.cookies.get(LANG_COOKIE)
    if g.lang not in LANGUAGES:
        g.lang = request.accept_languages.best_match(LANGUAGES, DEFAULT_LANGUAGE)
    g.words = Words(g.lang)
    g.viewer, g.drop_session = None, False
    if request.endpoint == "dashboard.static":
        return  # the CSS and script are public: no session to read
    signer = sessions()
    cookie = request.cookies.get(SESSION_COOKIE)
    if signer is None or not cookie:
        return
    named = signer.read_cookie(cookie)
    viewer = None
    if named is not None:  # one round trip: the session and the credential it was opened with
        record, credential = store().session_with_credential(named.session, named.credential_ref)
        viewer = signer.check(named, record, credential, settings(), clock())
    g.viewer = viewer
    g.drop_session = viewer is None


@bp.after_request
def harden(response: Response) -> Response:
    """Strict CSP and friends on every dashboard answer; remember a language asked for."""
    response.headers.update({
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin"})
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "private, no-store"
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.args["lang"], max_age=LANG_COOKIE_DAYS * 86400, path="/dashboard",
                            samesite="Strict", secure=request.is_secure, httponly=True)
    if g.get("drop_session"):
        response.delete_cookie(SESSION_COOKIE, path="/dashboard", samesite="Strict", secure=request.is_secure,
                               httponly=True)
    return response


@bp.errorhandler(ApiError)
def error_page(exc: ApiError):
    """Errors on the dashboard are pages, in the reader's language."""
    words = {401: "session_over", 403: "not_allowed", 404: "not_found"}.get(exc.status, "error")
    if isinstance(exc, (StorageUnavailable, RedisReplyError)):
        words = "unavailable"
    return page("dashboard/error.html", exc.status, message=g.words(words)), exc.headers


KEPT_ARGS = ("days", "sort", "dir", "period", "bye", "expired", "q", "page")
"""Query arguments of the dashboard's screens that a link to the same screen in another language keeps."""
MAX_KEPT_ARG_CHARS = 64
"""A kept argument longer than this (no screen takes one) is dropped from the link."""


def lang_url(code: str) -> str:
    """This page in another language (the choice is then remembered in a cookie)."""
    if request.endpoint in (None, "dashboard.open_share", "dashboard.signin_post", "dashboard.signout"):
        return url_for("dashboard.signin", lang=code)
    # Only the screens' own arguments, never the rest of request.args: url_for reads "endpoint",
    # "_method", "_external", "_anchor" and "_scheme" itself (a 500, or a link to another host), and
    # a "site_id" argument would replace the path's.
    kept = {name: value for name in KEPT_ARGS
            if (value := request.args.get(name)) is not None and len(value) <= MAX_KEPT_ARG_CHARS}
    return url_for(request.endpoint, **(request.view_args or {}), **kept, lang=code)


def who(viewer: Viewer) -> str:
    """Who a session is signed in as, in the reader's words."""
    if viewer.role == "admin":
        return g.words("as_operator")
    if viewer.role == "token":
        return g.words("as_token", label=viewer.label or viewer.credential)
    return g.words("as_share", site=viewer.site)


def csrf_ok(viewer: Viewer) -> bool:
    """Tell whether a form carries this session's CSRF token."""
    return hmac.compare_digest(request.form.get("csrf", "").encode(), viewer.csrf.encode())


def page(template: str, status: int = 200, **context) -> Response:
    html = render_template(template, w=g.words, viewer=g.viewer, lang=g.lang, lang_url=lang_url, who=who, **context)
    return Response(html, status=status, mimetype="text/html")


def signed_in() -> Viewer:
    """The viewer, or a redirect to the sign-in form."""
    if g.viewer is None:
        abort(redirect(url_for("dashboard.signin", expired=1 if request.cookies.get(SESSION_COOKIE) else None),
                       303))
    return g.viewer


def visible_site(site_id: str):
    """The site, if this viewer may see it: a share sees its own site only (403 for any other)."""
    viewer = signed_in()
    access.require(viewer.principal, Action.READ_SITE, site_id)
    if not valid_site_id(site_id):
        raise UnknownSite("site ids match [a-z0-9][a-z0-9-]{0,62}")
    return lookup_site(site_id)


def set_session(response: Response, viewer: Viewer, signer: Sessions) -> Response:
    """Keep the session in Redis, and name it in the cookie (replacing any session this browser had)."""
    if g.viewer is not None:
        store().delete_session(g.viewer.session)
    store().put_session(viewer.session, signer.record(viewer, settings()),
                        int(viewer.issued + signer.lifetime_seconds), clock())
    response.set_cookie(SESSION_COOKIE, signer.dump(viewer), max_age=int(signer.lifetime_seconds),
                        path="/dashboard", httponly=True, samesite="Strict", secure=request.is_secure)
    response.delete_cookie(PRESESSION_COOKIE, path="/dashboard", samesite="Strict", secure=request.is_secure,
                           httponly=True)
    g.drop_session = False
    return response


def detail_period() -> str:
    """The sources and devices panels' period: one of DETAIL_PERIODS, else the default (never an error)."""
    raw = request.args.get("period", report.DETAIL_DEFAULT)
    return raw if raw in DETAIL_PERIODS else report.DETAIL_DEFAULT


def chart_days() -> int:
    raw = request.args.get("days", "30")
    return int(raw) if raw in {str(n) for n in report.RANGES} else 30
