"""Admin API: the read-only dashboard share links of a site (Bearer token)."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for

from ..context import clock, lookup_site, store
from ..model import shares
from ..errors import ApiError, BadRequest
from ..access import Action
from .admin import allowed, authenticate, json_body

bp = Blueprint("shares", __name__, url_prefix="/api/v1/sites")
bp.before_request(authenticate)


class UnknownShare(ApiError):
    status, code = 404, "unknown_share"


class TooManyShares(ApiError):
    status, code = 409, "too_many_shares"


@bp.post("/<site_id>/shares")
@allowed(Action.MANAGE_SHARES)
def create_share(site_id: str):
    """Make a read-only dashboard link to one site; the answer is the only time its URL is shown."""
    site = lookup_site(site_id)
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object, e.g. {\"label\": \"editors\", \"expires_in_days\": 30}")
    now = clock()
    existing = store().list_shares(site.id)
    live = {i: r for i, r in existing.items() if not shares.expired(r, now)}
    if len(live) >= shares.MAX_SHARES_PER_SITE:
        raise TooManyShares(f"a site has at most {shares.MAX_SHARES_PER_SITE} share links: revoke some first")
    store().delete_shares(site.id, [i for i in existing if i not in live])
    share_id, secret, record = shares.new_share(site.id, body, now)
    store().put_share(site.id, share_id, record)
    url = url_for("dashboard.open_share", secret=secret, _external=True)
    return jsonify(site=site.id, **shares.public(share_id, record), url=url), 201


@bp.get("/<site_id>/shares")
@allowed(Action.MANAGE_SHARES)
def list_shares(site_id: str):
    """The site's share links, oldest first, without their secrets."""
    site = lookup_site(site_id)
    now = clock()
    found = store().list_shares(site.id)
    listed = [shares.public(i, r) for i, r in found.items() if not shares.expired(r, now)]
    return jsonify(site=site.id, shares=sorted(listed, key=lambda s: (s["created"], s["id"])))


@bp.delete("/<site_id>/shares/<share_id>")
@allowed(Action.MANAGE_SHARES)
def revoke_share(site_id: str, share_id: str):
    """Revoke a share link: sessions opened with it stop at their next request."""
    lookup_site(site_id)
    if not shares.SHARE_ID.fullmatch(share_id) or not store().delete_shares(site_id, [share_id]):
        raise UnknownShare(f"no share {share_id[:20]!r} on site {site_id!r}")
    return "", 204
