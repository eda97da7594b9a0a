"""Operator API: site tokens (made for some sites, shown once, revoked at once) and dashboard sessions."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import operations
from ..access import Action
from ..context import clock, store
from ..errors import ApiError
from ..model import tokens
from .admin import allowed, authenticate, json_body

bp = Blueprint("tokens", __name__, url_prefix="/api/v1")
bp.before_request(authenticate)


class UnknownToken(ApiError):
    status, code = 404, "unknown_token"


class UnknownSession(ApiError):
    status, code = 404, "unknown_session"


@bp.post("/tokens")
@allowed(Action.MANAGE_CREDENTIALS)
def create_token():
    """Make a site token for registered sites; the answer is the only time the token is shown."""
    label, sites, days = tokens.parse_request(json_body())
    return jsonify(operations.create_token(store(), label, sites, days, clock())), 201


@bp.get("/tokens")
@allowed(Action.MANAGE_CREDENTIALS)
def list_tokens():
    """Every site token, oldest first, without its secret (and when each was last used, roughly)."""
    return jsonify(tokens=operations.list_tokens(store(), clock()))


@bp.delete("/tokens/<token_id>")
@allowed(Action.MANAGE_CREDENTIALS)
def revoke_token(token_id: str):
    """Revoke a site token: it, and every dashboard session signed in with it, is refused at once."""
    if not tokens.TOKEN_ID.fullmatch(token_id) or not store().delete_token(token_id):
        raise UnknownToken(f"no token {token_id[:20]!r}")
    return "", 204


@bp.get("/sessions")
@allowed(Action.MANAGE_CREDENTIALS)
def list_sessions():
    """Every live dashboard session: who (role, token or share), since when, until when."""
    return jsonify(sessions=operations.list_sessions(store(), clock()))


@bp.delete("/sessions/<session_id>")
@allowed(Action.MANAGE_CREDENTIALS)
def end_session(session_id: str):
    """End a dashboard session on the server: its cookie opens nothing from its next request on."""
    if len(session_id) > 64 or not store().delete_session(session_id):
        raise UnknownSession("no such session")
    return "", 204
