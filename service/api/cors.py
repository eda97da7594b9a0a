"""CORS for the public endpoints only (hits and counters); admin routes get none."""

from __future__ import annotations

from flask import Response, request

CORS_HEADERS = (("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", "X-Not-Counted, ETag"))
PREFLIGHT_HEADERS = (("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
                     ("Access-Control-Allow-Headers", "Content-Type"), ("Access-Control-Max-Age", "86400"))


def allow_any_origin(response: Response) -> Response:
    """Let any portal page call this endpoint, including its JSON preflight."""
    # extend, not item assignment: a route's own answer never carries these, and each
    # assignment would first scan the headers for an old value (this runs on every hit).
    response.headers.extend(CORS_HEADERS)
    if request.method == "OPTIONS":
        response.headers.extend(PREFLIGHT_HEADERS)
    return response
