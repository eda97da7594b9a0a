"""The operator's Tokens screen: make a site token (shown once), see when each was last used, revoke one."""

from __future__ import annotations

import secrets

from flask import g, redirect, request, url_for

from .. import access, operations
from ..access import Action
from ..context import clock, store
from ..errors import ApiError
from ..model import tokens
from . import bp
from .middleware import csrf_ok, page, signed_in


def _screen(status: int = 200, **context):
    """The screen; its form carries a one-time value, so sending it again (a reload) makes no second token."""
    return page("dashboard/tokens.html", status, tokens=operations.list_tokens(store(), clock()),
                once=secrets.token_urlsafe(16), **context)


@bp.get("/tokens")
def tokens_screen():
    """Every site token, without its secret, and the form that makes one."""
    access.require(signed_in().principal, Action.MANAGE_CREDENTIALS)
    return _screen(notice=g.words("token_revoked") if request.args.get("revoked") else None)


@bp.post("/tokens")
def create_token():
    """Make a site token from the form; the page that answers is the only one that shows it."""
    viewer = signed_in()
    access.require(viewer.principal, Action.MANAGE_CREDENTIALS)
    if not csrf_ok(viewer):
        return page("dashboard/error.html", 400, message=g.words("form_expired"))
    days = request.form.get("expires_in_days", "").strip()
    body = {"label": request.form.get("label", "")[:tokens.MAX_LABEL_CHARS + 1],
            "sites": request.form.get("sites", "")[:100_000].replace(",", " ").split()}
    if days:
        body["expires_in_days"] = int(days) if days.isascii() and days.isdigit() and len(days) <= 6 else days
    try:
        request_ = tokens.parse_request(body)
        once = request.form.get("once", "")
        if not 16 <= len(once) <= 64 or not store().claim_form(once):
            return _screen(409, notice=g.words("token_already_made"))
        made = operations.create_token(store(), *request_, clock())
    except ApiError as exc:
        if exc.status == 404:
            unknown = [s for s, found in zip(body["sites"], store().get_sites(body["sites"])) if found is None]
            why = g.words("why_unknown_site", site=unknown[0] if unknown else "")
        else:
            why = g.words("why_bad_input")
        return _screen(400 if exc.status != 404 else 404, message=g.words("token_bad", why=why))
    return _screen(201, made=made)


@bp.post("/tokens/<token_id>/revoke")
def revoke_token(token_id: str):
    """Revoke a site token: it and every session signed in with it stop at their next request."""
    viewer = signed_in()
    access.require(viewer.principal, Action.MANAGE_CREDENTIALS)
    if not csrf_ok(viewer):
        return page("dashboard/error.html", 400, message=g.words("form_expired"))
    if tokens.TOKEN_ID.fullmatch(token_id):
        store().delete_token(token_id)
    return redirect(url_for("dashboard.tokens_screen", revoked=1), 303)
