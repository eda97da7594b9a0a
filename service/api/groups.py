"""Groups of sites: the operator sets a group's zone and label; anyone reads its counters (CORS-open, cached)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import operations
from ..access import Action
from ..context import clock, counter_cache, settings, store
from ..errors import BadRequest, UnknownGroup
from ..model.sites import valid_site_id, valid_timezone
from .admin import allowed, authenticate, json_body
from .cors import allow_any_origin
from .counters import cacheable

admin_bp = Blueprint("groups_admin", __name__, url_prefix="/api/v1/groups")
admin_bp.before_request(authenticate)
bp = Blueprint("groups", __name__)
bp.after_request(allow_any_origin)

MAX_LABEL_CHARS = 200


@admin_bp.put("/<group_id>")
@allowed(Action.MANAGE_SITES)
def put_group(group_id: str):
    """Set a group's time zone (its days) and label; a site joins it with its ``group`` field."""
    if not valid_site_id(group_id):
        raise BadRequest("group ids match [a-z0-9][a-z0-9-]{0,62}")
    body = json_body()
    if not isinstance(body, dict) or set(body) - {"timezone", "label"}:
        raise BadRequest("body must be {\"timezone\", \"label\"}")
    zone = body.get("timezone", settings().DEFAULT_TIMEZONE)
    if not isinstance(zone, str) or not valid_timezone(zone):
        raise BadRequest("timezone must be an IANA time zone name, e.g. Asia/Ho_Chi_Minh")
    label = body.get("label", "")
    if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
        raise BadRequest(f"label must be a string of at most {MAX_LABEL_CHARS} characters")
    created = operations.put_group(store(), group_id, zone, label)
    counter_cache().forget_group(group_id)
    _, members = store().get_group(group_id)
    return jsonify(group=group_id, timezone=zone, label=label, sites=len(members)), 201 if created else 200


@bp.get("/api/v1/groups/<group_id>/counters")
def group_counters(group_id: str):
    """The group's counters: visits and pageviews summed over its members, visitors and online distinct."""
    if not valid_site_id(group_id):
        raise UnknownGroup("group ids match [a-z0-9][a-z0-9-]{0,62}")
    numbers, stale = counter_cache().read_group(group_id, settings().DEFAULT_TIMEZONE, clock())
    if numbers.get("unknown"):
        raise UnknownGroup(f"no group {group_id!r} here: no settings and no member site")
    body = {"group": group_id, "timezone": numbers["timezone"], "as_of": numbers["as_of"], "sites": numbers["sites"],
            "online": numbers["online"], **{p: numbers[p] for p in ("today", "yesterday", "week", "month", "total")},
            "stale": stale}
    return cacheable(body, stale)
