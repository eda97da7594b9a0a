"""Prometheus metrics, correct across gunicorn workers (multiprocess mode when configured)."""

from __future__ import annotations

import functools
import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

HITS = Counter("va_hits_total",
               "Hits by final outcome: visit, pageview, ping (counted); bot, no_user_agent, "
               "user_agent_too_long, prefetch, foreign_domain, unknown_site, invalid, rate_limited, dropped "
               "(buffer full), duplicate (a retried batch recognised).", ["outcome"])
REQUESTS = Histogram("va_request_duration_seconds", "Time to answer a request, by route and status class.",
                     ["route", "method", "status"],
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
BUFFER_DEPTH = Gauge("va_buffer_hits", "Hits waiting in the in-process buffer at the last flush attempt "
                     "(summed over live workers).",
                     multiprocess_mode="livesum")
REPLAYED = Counter("va_journal_replayed_hits_total", "Hits read back from the shutdown journal.")
FLUSH_SECONDS = Histogram("va_flush_duration_seconds", "Time to write one batch of hits to Redis.",
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
COUNTERS_CACHE = Counter("va_counters_cache_total", "Counters reads by cache result (hit, miss, stale).",
                         ["result"])
REDIS_SECONDS = Histogram("va_redis_seconds", "Time of one Redis round trip, by operation.", ["operation"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
REDIS_ERRORS = Counter("va_redis_errors_total", "Redis calls that failed or timed out, by operation.",
                       ["operation"])


@functools.cache
def hits(outcome: str):
    """The va_hits_total child of one outcome (looked up once: every hit counts one)."""
    return HITS.labels(outcome=outcome)


def render() -> tuple[bytes, str]:
    """The scrape body: every worker's numbers summed when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
