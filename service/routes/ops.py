"""Liveness, readiness and metrics for the ops team."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from .. import metrics
from ..context import recorder, store

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Answer while the process serves; touches nothing."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready when Redis answers a PING and will not evict the all-time counters."""
    buffered = recorder().depth
    if not store().ping():
        return jsonify(status="unready", buffered_hits=buffered,
                       error={"code": "redis_unavailable", "message": "Redis did not answer PING"}), 503
    durability = durability_check()
    body = {"status": "ready", "redis": "ok", "buffered_hits": buffered, "durability": durability.as_json()}
    if durability.errors:
        body.update(status="unready", error={"code": "redis_may_evict", "message": durability.errors[0]})
        return jsonify(body), 503
    return jsonify(body)


def durability_check():
    """The Redis durability check, repeated at most once a minute per process."""
    cache = current_app.extensions["durability_cache"]
    found = cache.get("redis")
    if found is None:
        found = store().durability()
        cache.put("redis", found)
    return found


@bp.get("/metrics")
def prometheus():
    """Prometheus text format."""
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)
