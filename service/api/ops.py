"""Liveness, readiness and metrics for the ops team."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from flask import Blueprint, Response, current_app, jsonify, request

from .. import access
from ..ops import metrics
from ..context import clock, recorder, settings, store
from ..errors import Forbidden, RedisReplyError, StorageUnavailable

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Answer while the process serves; touches nothing."""
    return jsonify(status="ok")


def for_operators() -> bool:
    """Whether this request may see ops details: it carries the operator's bearer token, or comes
    from a METRICS_ALLOW network (loopback and private ranges by default)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given.strip():
        # A guess here counts like one on the API (else /readyz and /metrics would be an unlimited
        # oracle for ADMIN_TOKEN); with Redis away the limit is not known, and the details still go out.
        address = request.remote_addr or ""
        try:
            access.refuse_if_guessing(settings(), store(), address, clock())
        except (StorageUnavailable, RedisReplyError):
            pass
        if access.operator_token_matches(settings(), given):
            return True
        try:
            access.failed(settings(), store(), address, clock(), "bearer")
        except (StorageUnavailable, RedisReplyError):
            pass
    try:
        address = ipaddress.ip_address((request.remote_addr or "").partition("%")[0])
    except ValueError:
        return False  # a unix socket, or nothing: not known to be ours
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address in network for network in settings().metrics_networks)


@bp.get("/readyz")
def readyz():
    """Ready when Redis answers, is supported, writable, has memory and will not evict counters;
    the details only for the operator (token or METRICS_ALLOW network), the public ready or not."""
    body, status = readiness()
    if for_operators():
        return jsonify(body), status
    if status == 200:
        return jsonify(status="ready")
    reason = "durability" if body["error"]["code"] == "redis_may_evict" else "redis"
    return jsonify(status="unready", reason=reason,
                   error={"code": "unready", "message": f"not ready ({reason})"}), status


def readiness() -> tuple[dict, int]:
    """The full readiness answer and its status."""
    buffered = metrics.buffered_in_instance(recorder().depth)  # every worker of this instance, not this one
    try:
        problems = store().server_problems()
    except StorageUnavailable:
        return {"status": "unready", "buffered_hits": buffered,
                "error": {"code": "redis_unavailable", "message": "Redis did not answer"}}, 503
    except RedisReplyError as exc:
        problems = [(exc.kind, exc.redis_message)]
    failing = recorder().failing  # what Redis answered our last write, until one succeeds
    if failing is not None and failing.kind not in {kind for kind, _ in problems}:
        problems.append((failing.kind, failing.redis_message))
    durability, journal_problem = cached_checks()
    body = {"status": "ready", "redis": "ok", "buffered_hits": buffered, "durability": durability.as_json(),
            "warnings": ([journal_problem] if journal_problem else []) + pages_cap_warnings()}
    if problems:
        kind, message = problems[0]
        body.update(status="unready", redis=kind, error={"code": f"redis_{kind}", "message": message},
                    problems=[{"code": f"redis_{k}", "message": m} for k, m in problems])
        return body, 503
    if durability.errors:
        body.update(status="unready", error={"code": "redis_may_evict", "message": durability.errors[0]})
        return body, 503
    return body, 200


def pages_cap_warnings() -> list[str]:
    """Sites that passed PAGES_PER_DAY in the last two days (seen by this process)."""
    recent = clock().date() - timedelta(days=1)
    cap = settings().PAGES_PER_DAY
    return [f"site {site} passed PAGES_PER_DAY ({cap}) distinct pages on {day}: views of further new pages "
            "count for the site only (va_pages_over_cap_total)"
            for site, day in sorted(store().pages_over_cap.items()) if day >= recent]


def cached_checks():
    """The durability and journal checks, repeated at most once a minute per process."""
    cache = current_app.extensions["durability_cache"]
    found = cache.get("checks")
    if found is None:
        found = (store().durability(), recorder().journal.problem())
        cache.put("checks", found)
    return found


@bp.get("/metrics")
def prometheus():
    """Prometheus text format, for a METRICS_ALLOW network or the operator's token only."""
    if not for_operators():
        raise Forbidden("metrics are served to the METRICS_ALLOW networks or with the operator's token")
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)
