"""The dashboard's pages: sign-in, the operator's table of sites, a site's screen, CSV downloads."""

from __future__ import annotations

import hmac
from datetime import date

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from ..context import clock, lookup_site, settings, store
from ..errors import ApiError, RedisReplyError, StorageUnavailable, UnknownSite
from ..model.sites import valid_site_id
from ..storage import PERIODS
from . import charts, csv_export, report
from ..model import shares
from .i18n import DEFAULT_LANGUAGE, LANGUAGES, Words
from .session import (LANG_COOKIE, LANG_COOKIE_DAYS, PRESESSION_COOKIE, SESSION_COOKIE, Sessions, Viewer, hashed_address, new_viewer, signing_key)

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", static_folder="../static/dashboard",
               static_url_path="/static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
"""Every dashboard answer's Content-Security-Policy: our own files only, no inline script or style."""
SORTS = ("site", "online", "today", "week", "total")
CSV_TOP_PERIODS = (*report.TOP_PERIODS, *(p for p in PERIODS if p != "today"))
MAX_TOKEN_CHARS = 1000


class Forbidden(ApiError):
    status, code = 403, "forbidden"


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
    """Read the language and the session; a share's session ends when the share is revoked or expires."""
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
    viewer = signer.load(cookie, clock())
    if viewer is not None and viewer.role == "share":
        record = store().get_share(viewer.site, viewer.share)
        if record is None or shares.expired(record, clock()):
            viewer = None
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


def lang_url(code: str) -> str:
    """This page in another language (the choice is then remembered in a cookie)."""
    if request.endpoint in (None, "dashboard.open_share", "dashboard.signin_post", "dashboard.signout"):
        return url_for("dashboard.signin", lang=code)
    return url_for(request.endpoint, **{**(request.view_args or {}), **request.args.to_dict(), "lang": code})


def page(template: str, status: int = 200, **context) -> Response:
    html = render_template(template, w=g.words, viewer=g.viewer, lang=g.lang, lang_url=lang_url, **context)
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
    if not viewer.may_see(site_id):
        raise Forbidden("not allowed")
    if not valid_site_id(site_id):
        raise UnknownSite("site ids match [a-z0-9][a-z0-9-]{0,62}")
    return lookup_site(site_id)


def set_session(response: Response, viewer: Viewer, signer: Sessions) -> Response:
    response.set_cookie(SESSION_COOKIE, signer.dump(viewer), max_age=int(signer.lifetime_seconds),
                        path="/dashboard", httponly=True, samesite="Strict", secure=request.is_secure)
    response.delete_cookie(PRESESSION_COOKIE, path="/dashboard", samesite="Strict", secure=request.is_secure,
                           httponly=True)
    g.drop_session = False
    return response


# --- signing in and out ---------------------------------------------------------------


def signin_form(status: int = 200, message: str | None = None, notice: str | None = None, headers=None):
    """The sign-in form, with a fresh form token in its pre-session cookie."""
    signer = sessions()
    if signer is None:
        return page("dashboard/signin.html", 403, message=g.words("disabled"), form_token=None)
    form_token, cookie = signer.new_form_token()
    response = page("dashboard/signin.html", status, message=message, notice=notice, form_token=form_token)
    response.set_cookie(PRESESSION_COOKIE, cookie, max_age=3600, path="/dashboard", httponly=True,
                        samesite="Strict", secure=request.is_secure)
    response.headers.update(headers or {})
    return response


@bp.get("/signin")
def signin():
    """The sign-in form (signed in already: the dashboard)."""
    if g.viewer is not None:
        return redirect(url_for("dashboard.home"), 303)
    notice = "signed_out" if request.args.get("bye") else "session_over" if request.args.get("expired") else None
    return signin_form(notice=g.words(notice) if notice else None)


@bp.post("/signin")
def signin_post():
    """Check the admin token (constant time, a few attempts a minute per address); then a session."""
    signer = sessions()
    try:
        if signer is None:
            raise Refused(403, "disabled")
        if not signer.form_token_matches(request.cookies.get(PRESESSION_COOKIE), request.form.get("csrf")):
            raise Refused(400, "form_expired")
        address = hashed_address(signing_key(settings()), request.remote_addr or "")
        if store().count_signin_attempt(address, clock()) > settings().DASHBOARD_SIGNIN_PER_MINUTE:
            raise Refused(429, "too_many", **{"Retry-After": "60"})
        given = request.form.get("token", "").strip()[:MAX_TOKEN_CHARS]
        if not settings().ADMIN_TOKEN or not hmac.compare_digest(given.encode(), settings().ADMIN_TOKEN.encode()):
            raise Refused(401, "wrong_token")
    except Refused as refused:
        return signin_form(refused.status, g.words(refused.words), headers=refused.headers)
    return set_session(redirect(url_for("dashboard.home"), 303), new_viewer(clock()), signer)


@bp.post("/signout")
def signout():
    """End the session (the form's CSRF token must be the session's)."""
    viewer = g.viewer
    if viewer is not None and not hmac.compare_digest(request.form.get("csrf", "").encode(), viewer.csrf.encode()):
        return page("dashboard/error.html", 400, message=g.words("form_expired"))
    g.drop_session = True
    return redirect(url_for("dashboard.signin", bye=1), 303)


@bp.get("/share/<secret>")
def open_share(secret: str):
    """Sign in as a read-only viewer of the share's one site, then leave the secret's URL at once."""
    signer = sessions()
    parts = shares.split_secret(secret)
    record = None
    if signer is not None and parts and valid_site_id(parts[0]):
        record = store().get_share(parts[0], parts[1])
    if record is None or not shares.key_matches(record, parts[2]) or shares.expired(record, clock()):
        return page("dashboard/error.html", 404, message=g.words("share_invalid"))
    lookup_site(parts[0])
    viewer = new_viewer(clock(), site=parts[0], share=parts[1])
    return set_session(redirect(url_for("dashboard.site_screen", site_id=parts[0]), 303), viewer, signer)


# --- screens ---------------------------------------------------------------------------


@bp.get("")
def home():
    """The operator's table of every site (admin only; a share goes to its own site)."""
    viewer = signed_in()
    if not viewer.is_admin:
        raise Forbidden("the operator's screen is for the admin")
    sort = request.args.get("sort", "site")
    sort = sort if sort in SORTS else "site"
    descending = request.args.get("dir", "asc" if sort == "site" else "desc") == "desc"
    found = [s for s in (store().get_site(i) for i in store().list_sites()) if s is not None]
    rows = report.site_rows(store(), found, clock(), settings().week_start_index)
    rows.sort(key=lambda r: r[sort], reverse=descending)
    for row in rows:
        row["spark"] = charts.sparkline(row["trend"])
    totals = {col: sum(r[col] for r in rows) for col in SORTS if col != "site"}
    return page("dashboard/sites.html", rows=rows, sort=sort, descending=descending, sorts=SORTS, totals=totals)


def chart_days() -> int:
    raw = request.args.get("days", "30")
    return int(raw) if raw in {str(n) for n in report.RANGES} else 30


@bp.get("/sites/<site_id>")
def site_screen(site_id: str):
    """One site: headline numbers with their change, the daily chart and table, most read, not counted."""
    site = visible_site(site_id)
    now, days = clock(), chart_days()
    numbers = report.headline(store(), site, now, settings().week_start_index)
    today = numbers["today"]
    rows = report.daily(store(), site, today, days)
    return page("dashboard/site.html", site=site, numbers=numbers, days=days, ranges=report.RANGES, rows=rows,
                chart=charts.daily_chart(rows), series=charts.SERIES, dates=[date.fromisoformat(r["date"]) for r in rows],
                tops=report.top_lists(store(), site, today), not_counted=report.not_counted(store(), site, today),
                reasons=report.NOT_COUNTED_REASONS, as_of=now.astimezone(site.tz),
                link_host=next((d for d in site.domains if not d.startswith("*.")), None))


@bp.get("/sites/<site_id>/history.csv")
def history_csv(site_id: str):
    """The daily history of the chosen range, as the history API answers it."""
    site = visible_site(site_id)
    days = chart_days()
    rows = report.daily(store(), site, clock().astimezone(site.tz).date(), days)
    return csv_export.download(f"{site.id}-history-{days}d.csv", ["date", "visits", "pageviews", "visitors"],
                               [[r["date"], r["visits"], r["pageviews"], r["visitors"]] for r in rows])


@bp.get("/sites/<site_id>/top.csv")
def top_csv(site_id: str):
    """The most-read pages of a period (the /top periods, or 7d and 30d), as /top answers them."""
    site = visible_site(site_id)
    period = request.args.get("period", "7d")
    if period not in CSV_TOP_PERIODS:
        return page("dashboard/error.html", 400, message=g.words("not_found"))
    now = clock()
    today = now.astimezone(site.tz).date()
    limit = 50
    if period in report.TOP_PERIODS:
        pages = store().top_pages_of_days(site, report.days_back(today, report.TOP_PERIODS[period]), limit)
    else:
        pages = store().top_pages(site, period, limit, now, settings().week_start_index)
    return csv_export.download(f"{site.id}-top-{period}.csv", ["path", "title", "views"],
                               [[p["path"], p["title"] or "", p["views"]] for p in pages])

