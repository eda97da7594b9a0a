"""Small named API errors and the one JSON error shape every 4xx/5xx answers with."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a client can act on; rendered as ``{"error": {"code", "message"}}``."""

    status = 400
    code = "bad_request"
    headers: dict[str, str] = {}

    def __init__(self, message: str = "", **headers: str):
        super().__init__(message or self.code)
        self.message = message or self.code.replace("_", " ")
        self.headers = headers


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class BodyTooLarge(ApiError):
    status, code = 413, "body_too_large"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class AdminDisabled(ApiError):
    status, code = 403, "admin_disabled"


class UnknownSite(ApiError):
    status, code = 404, "unknown_site"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


class StorageUnavailable(ApiError):
    """The store could not reach Redis within its timeouts (an outage: buffer and retry)."""

    status, code = 503, "redis_unavailable"
    kind = "unavailable"

    def __init__(self, message: str = "the counter store is unreachable; try again shortly"):
        super().__init__(message, **{"Retry-After": "5"})


class Unconfirmed(StorageUnavailable):
    """Redis took a batch but too few replicas confirmed it (WAIT): a failover could discard it, so
    it is retried under the same id, like a batch whose reply was lost."""

    kind = "unconfirmed"

    def __init__(self, detail: str):
        super().__init__()
        self.redis_message = detail
        """Why, for /readyz and the log (read like RedisReplyError's)."""


class RedisReplyError(ApiError):
    """Redis answered, with an error reply: not an outage, handled for what ``kind`` says."""

    status = 503
    KINDS = {
        "oom": "Redis is out of memory (maxmemory reached with noeviction)",
        "readonly": "Redis is a read-only replica (a failover demoted it?)",
        "auth": "Redis refused our credentials or permissions",
        "unsupported_version": "the Redis server is older than the scripts need",
        "other": "Redis answered with an error",
    }
    TRANSIENT = frozenset({"oom", "readonly", "auth", "unsupported_version"})
    """Kinds that heal when the operator fixes Redis: hits wait for it, however long."""

    def __init__(self, kind: str, redis_message: str):
        self.kind = kind if kind in self.KINDS else "other"
        self.code = f"redis_{self.kind}"
        self.redis_message = redis_message
        super().__init__(f"{self.KINDS[self.kind]}: {redis_message}", **{"Retry-After": "5"})


# Codes for werkzeug's own errors (routing, body size), so they read like ours.
HTTP_CODES = {
    400: "bad_request", 404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
    413: "body_too_large", 414: "uri_too_long", 415: "unsupported_media_type",
    431: "headers_too_large",
}


def error_response(status: int, code: str, message: str, headers: dict | None = None):
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def register(app: Flask) -> None:
    """Replace Flask's HTML error pages with the JSON envelope."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = HTTP_CODES.get(exc.code or 500, "http_error")
        response = error_response(exc.code or 500, code, exc.description or code)
        if exc.code == 405 and exc.response is None:
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error")


class Conflict(ApiError):
    status, code = 409, "conflict"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class UnknownGroup(ApiError):
    status, code = 404, "unknown_group"
