"""Benchmark baseline: the framework's floor for a hit-sized POST (registered only when asked)."""

from __future__ import annotations

from flask import Blueprint, Response, request

bp = Blueprint("floor", __name__)


@bp.post("/bench/floor")
def floor():
    """Read the body like the hit route does, then answer 204 and do nothing else."""
    request.get_data(cache=False)
    return Response(status=204)
