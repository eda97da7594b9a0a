"""Structured JSON logs: one line per event; never a raw IP or User-Agent at INFO."""

from __future__ import annotations

import logging
import secrets
import sys
import time

from flask import Flask, g, request
from pythonjsonlogger.json import JsonFormatter

from . import metrics
from .redact import AccessRecordFilter, RedactFilter

log = logging.getLogger("service.access")


def configure(level: str) -> None:
    """Send the service's logs as JSON lines to stderr at ``level``."""
    root = logging.getLogger("service")
    if not any(getattr(h, "_va", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"levelname": "level", "asctime": "time"}))
        handler.addFilter(RedactFilter())
        handler._va = True
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level.upper())
    guard_server_logs()


def guard_server_logs() -> None:
    """Redact gunicorn's own loggers from inside the app, however gunicorn was launched: without
    gunicorn.conf.py (started from another folder, no -c) its logconfig_dict and filter are not read,
    and its "Invalid request from ip=..." warnings would name the client."""
    for name, kind in (("gunicorn.error", RedactFilter), ("gunicorn.access", AccessRecordFilter)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


def register(app: Flask) -> None:
    """Time every request, give it an id, log one line and feed the duration histogram."""

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else secrets.token_hex(8)

    @app.after_request
    def log_request(response):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        method = request.method if request.method in metrics.HTTP_METHODS else "other"
        metrics.REQUESTS.labels(route=route, method=method,
                                status=f"{response.status_code // 100}xx").observe(elapsed)
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if app.config["ACCESS_LOG"] and log.isEnabledFor(logging.INFO):
            log.info("request", extra={
                "request_id": g.get("request_id"), "method": request.method, "route": route,
                "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
                "not_counted": response.headers.get("X-Not-Counted"),
            })
        return response


def warn_if_behind_an_unknown_proxy(app) -> None:
    """With TRUSTED_PROXIES=0, warn once per process when a proxy on our own network forwards a request:
    every reader is then seen at the proxy's address, so the per-address limits are shared by all of
    them (ten wrong tokens a minute from anyone would refuse every operator and webmaster)."""
    import ipaddress

    from flask import request

    warned = []

    @app.before_request
    def proxy_without_trusted_proxies():
        if warned or not (request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")):
            return
        try:
            peer = ipaddress.ip_address((request.remote_addr or "").partition("%")[0])
        except ValueError:
            return
        if peer.is_private or peer.is_loopback:
            warned.append(True)
            log.warning("a proxy forwards requests (X-Forwarded-For) but TRUSTED_PROXIES is 0: every reader is "
                        "seen at the proxy's address and shares its limits (failed tokens, sign-ins, hits per "
                        "address); set TRUSTED_PROXIES to the number of proxies in front of the service")
