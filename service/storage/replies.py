"""Redis failures told apart: an outage (buffer and retry) from an error reply (log it, say it, handle it)."""

from __future__ import annotations

import contextlib
import logging
import time

from redis.exceptions import (AuthenticationError, AuthorizationError, ClusterDownError, ConnectionError,
                              NoPermissionError, OutOfMemoryError, ReadOnlyError, RedisError, TimeoutError,
                              TryAgainError)

from ..errors import RedisReplyError, StorageUnavailable
from ..ops import metrics

ERROR_LOG_SECONDS = 60.0
"""An error reply of one kind is logged at ERROR at most this often per process."""

log = logging.getLogger(__name__)


def classify(exc: RedisError) -> str:
    """The kind of a Redis failure: 'unavailable' (an outage) or an error reply's kind."""
    if isinstance(exc, OutOfMemoryError):
        return "oom"
    if isinstance(exc, ReadOnlyError):
        return "readonly"
    if isinstance(exc, (AuthenticationError, AuthorizationError, NoPermissionError)):
        return "auth"
    if isinstance(exc, (ConnectionError, TimeoutError, ClusterDownError, TryAgainError)):
        return "unavailable"  # lost connection, timeout, LOADING, a cluster mid-failover
    message = reply_message(exc)
    for prefix, kind in (("OOM", "oom"), ("READONLY", "readonly"), ("NOAUTH", "auth"),
                         ("WRONGPASS", "auth"), ("NOPERM", "auth")):
        if message.startswith(prefix):
            return kind
    return "other"


def reply_message(exc: Exception) -> str:
    """Redis's own words, without redis-py's pipeline preamble (which quotes our arguments)."""
    message = str(exc.args[0]) if exc.args else str(exc)
    return message.rpartition("caused error: ")[2][:500]


class ErrorLog:
    """ERROR lines for error replies with Redis's message, at most once a minute per kind (an OOM lasts)."""

    def __init__(self):
        self._last: dict[str, float] = {}

    def __call__(self, kind: str, operation: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -ERROR_LOG_SECONDS) >= ERROR_LOG_SECONDS:
            self._last[kind] = now
            log.error("Redis answered %s with an error (%s): %s", operation, kind, message)


@contextlib.contextmanager
def redis_errors(operation: str, log_reply_error: ErrorLog):
    """Time a Redis round trip; an outage raises StorageUnavailable, an error reply RedisReplyError."""
    started = time.perf_counter()
    try:
        yield
    except RedisError as exc:
        kind = classify(exc)
        metrics.REDIS_ERRORS.labels(operation=operation, kind=kind).inc()
        if kind == "unavailable":
            raise StorageUnavailable() from exc
        log_reply_error(kind, operation, reply_message(exc))
        raise RedisReplyError(kind, reply_message(exc)) from exc
    metrics.REDIS_SECONDS.labels(operation=operation).observe(time.perf_counter() - started)

