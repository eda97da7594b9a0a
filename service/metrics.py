"""Prometheus metrics, correct across gunicorn workers (multiprocess mode when configured)."""

from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)

HITS = Counter("va_hits_total", "Hits received, by outcome (visit, pageview, ping, or why not counted).",
               ["outcome"])
REQUESTS = Histogram("va_request_duration_seconds", "Time to answer a request, by route and status class.",
                     ["route", "method", "status"],
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
REDIS_ERRORS = Counter("va_redis_errors_total", "Redis calls that failed or timed out, by operation.",
                       ["operation"])


def render() -> tuple[bytes, str]:
    """The scrape body: every worker's numbers summed when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
