"""Liveness, readiness and metrics for the ops team."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import metrics
from ..context import recorder, store

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Answer while the process serves; touches nothing."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready when Redis answers a PING within the store's timeout."""
    buffered = recorder().depth
    if store().ping():
        return jsonify(status="ready", redis="ok", buffered_hits=buffered)
    return jsonify(status="unready", buffered_hits=buffered,
                   error={"code": "redis_unavailable", "message": "Redis did not answer PING"}), 503


@bp.get("/metrics")
def prometheus():
    """Prometheus text format."""
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)
