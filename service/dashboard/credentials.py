"""The operator's Tokens screen: make a site token (shown once), see when each was last used, revoke one."""

from __future__ import annotations

from flask import g, redirect, request, url_for

from .. import access, operations
from ..access import Action
from ..context import clock, store
from ..errors import ApiError
from ..model import tokens
from . import bp
from .middleware import csrf_ok, page, signed_in


def _screen(status: int = 200, **context):
    return page("dashboard/tokens.html", status, tokens=operations.list_tokens(store(), clock()), **context)


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
        made = operations.create_token(store(), *tokens.parse_request(body), clock())
    except ApiError as exc:
        return _screen(400 if exc.status != 404 else 404, message=g.words("token_bad", why=exc.message))
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
