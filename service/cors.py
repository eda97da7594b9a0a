"""CORS for the public endpoints only (hits and counters); admin routes get none."""

from __future__ import annotations

from flask import Response, request


def allow_any_origin(response: Response) -> Response:
    """Let any portal page call this endpoint, including its JSON preflight."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "X-Not-Counted, ETag"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response
