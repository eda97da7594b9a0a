"""Signing in (the operator's token, a few attempts a minute per address), out, and opening a share link."""

from __future__ import annotations

import hmac

from flask import g, redirect, request, url_for

from .. import access
from ..context import clock, lookup_site, settings, store
from ..errors import TooManyRequests
from ..model import shares
from ..model.sites import valid_site_id
from . import bp
from .middleware import Refused, page, sessions, set_session
from .session import PRESESSION_COOKIE, hashed_address, new_viewer, signing_key


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
        try:
            access.refuse_if_guessing(settings(), store(), request.remote_addr or "", clock())
        except TooManyRequests as exc:
            raise Refused(429, "too_many", **exc.headers)
        principal = access.identify(settings(), store(), request.form.get("token", "")[:access.MAX_TOKEN_CHARS + 1],
                                    clock())
        if principal is None:
            access.failed(settings(), store(), request.remote_addr or "", clock(), "signin")
            raise Refused(401, "wrong_token")
    except Refused as refused:
        return signin_form(refused.status, g.words(refused.words), headers=refused.headers)
    if principal.is_operator:
        viewer = new_viewer(clock())
    else:
        record = store().get_token(principal.credential) or {}
        viewer = new_viewer(clock(), token=principal.credential, sites=sorted(principal.sites),
                            label=record.get("label", ""))
    return set_session(redirect(url_for("dashboard.home"), 303), viewer, signer)


@bp.post("/signout")
def signout():
    """End the session (the form's CSRF token must be the session's)."""
    viewer = g.viewer
    if viewer is not None and not hmac.compare_digest(request.form.get("csrf", "").encode(), viewer.csrf.encode()):
        return page("dashboard/error.html", 400, message=g.words("form_expired"))
    if viewer is not None:
        store().delete_session(viewer.session)  # the cookie, replayed, opens nothing
    g.drop_session = True
    return redirect(url_for("dashboard.signin", bye=1), 303)


@bp.route("/share/<secret>", methods=["GET", "POST"])
def open_share(secret: str):
    """Sign in as a read-only viewer of the share's one site, then leave the secret's URL at once.

    Signed in as someone else already, the link asks first (a POST with this session's CSRF
    token replaces it): a link someone sends cannot sign an operator out behind their back.
    """
    signer = sessions()
    parts = shares.split_secret(secret)
    record = None
    if signer is not None and parts and valid_site_id(parts[0]):
        record = store().get_share(parts[0], parts[1])
    if record is None or not shares.key_matches(record, parts[2]) or shares.expired(record, clock()):
        return page("dashboard/error.html", 404, message=g.words("share_invalid"))
    lookup_site(parts[0])
    current = g.viewer
    if current is not None and not (current.role == "share" and current.credential == parts[1]):
        confirmed = request.method == "POST" and hmac.compare_digest(request.form.get("csrf", "").encode(),
                                                                     current.csrf.encode())
        if not confirmed:
            return page("dashboard/share_confirm.html", 200 if request.method == "GET" else 400, site_id=parts[0],
                        label=record.get("label", ""), action=request.path)
    elif current is not None:
        return redirect(url_for("dashboard.site_screen", site_id=parts[0]), 303)  # that share's session already
    # Each opening makes a session in Redis (kept DASHBOARD_SESSION_HOURS): a sign-in, limited per
    # address like the form, or one client looping on a forwarded link would fill Redis.
    address = hashed_address(signing_key(settings()), request.remote_addr or "")
    if store().count_signin_attempt(address, clock()) > settings().DASHBOARD_SIGNIN_PER_MINUTE:
        return page("dashboard/error.html", 429, message=g.words("too_many")), {"Retry-After": "60"}
    viewer = new_viewer(clock(), site=parts[0], share=parts[1], label=record.get("label", ""))
    return set_session(redirect(url_for("dashboard.site_screen", site_id=parts[0]), 303), viewer, signer)
