"""The OpenAPI 3.1 description of the HTTP API, served as it ships in the package."""

from __future__ import annotations

import functools
from importlib import resources

from flask import Blueprint, Response

bp = Blueprint("docs", __name__)


@functools.cache
def openapi_document() -> bytes:
    """The bytes of service/openapi.json, read once per process."""
    return resources.files("service").joinpath("openapi.json").read_bytes()


@bp.get("/openapi.json")
def openapi():
    """Serve the API description; any origin may read it (API explorers run elsewhere)."""
    response = Response(openapi_document(), mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
