"""Benchmark baseline: the framework's floor for a hit-sized POST, in the same app as the hit route.

The bench starts gunicorn with `bench.floor:create_app()`: the product's app plus this one route."""

from __future__ import annotations

from flask import Blueprint, Response, request

bp = Blueprint("floor", __name__)


@bp.post("/bench/floor")
def floor():
    """Read the body like the hit route does, then answer 204 and do nothing else."""
    request.get_data(cache=False)
    return Response(status=204)


def create_app():
    """The product's app with the floor route added (bench/launch.py runs it under the image's command)."""
    import service

    app = service.create_app()
    app.register_blueprint(bp)
    return app
