"""Prometheus metrics, correct across gunicorn workers (multiprocess mode when configured)."""

from __future__ import annotations

import functools
import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

from ..model.hits import Outcome

HITS = Counter("va_hits_total", "Hits by final outcome: " + "; ".join(
    f"{o} ({o.description})" for o in Outcome if o is not Outcome.QUEUED) + ".", ["outcome"])
REQUESTS = Histogram("va_request_duration_seconds", "Time to answer a request, by route and status class.",
                     ["route", "method", "status"],
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
BUFFER_DEPTH = Gauge("va_buffer_hits", "Hits waiting in the in-process buffer at the last flush attempt "
                     "(summed over live workers).",
                     multiprocess_mode="livesum")
REPLAYED = Counter("va_journal_replayed_hits_total", "Hits from the shutdown journal written to Redis (each "
                   "once, also when a worker replaying it died and another took over).")
FLUSH_SECONDS = Histogram("va_flush_duration_seconds", "Time to write one batch of hits to Redis.",
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
COUNTERS_CACHE = Counter("va_counters_cache_total", "Counters reads by cache result (hit, miss, stale).",
                         ["result"])
REDIS_SECONDS = Histogram("va_redis_seconds", "Time of one Redis round trip, by operation.", ["operation"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
REDIS_ERRORS = Counter("va_redis_errors_total", "Redis calls that failed, by operation and kind: unavailable "
                       "(timeout, lost connection: buffered and retried), oom, readonly, auth, "
                       "unsupported_version, other (error replies: logged at ERROR, shown by /readyz), unconfirmed (a batch no "
                       "replica confirmed in time with Sentinel: retried).",
                       ["operation", "kind"])
BATCHES_SET_ASIDE = Counter("va_batches_set_aside_total", "Batches Redis kept refusing with an unexpected "
                            "error reply, written to JOURNAL_DIR/rejected-*.jsonl instead of retried forever.")
AUTH_FAILURES = Counter("va_auth_failures_total", "Failed credential attempts (a wrong, revoked or expired "
                        "token), by where: bearer (the API) or signin (the dashboard's form).", ["where"])
PAGES_PUSHED_OUT = Counter("va_pages_pushed_out_total", "Pages a site's all-time set let go, the least viewed, "
                           "to stay within PAGES_ALL_TIME (with their titles and links).")
PAGES_OVER_CAP = Counter("va_pages_over_cap_total", "Counted pageviews of pages new to a day that had "
                         "PAGES_PER_DAY distinct pages already: in the site's numbers, not per page.")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
"""Request methods that get their own label value; any other a client invents is 'other'."""


OUTCOMES = tuple(str(o) for o in Outcome if o is not Outcome.QUEUED)
"""Every value of va_hits_total's outcome label."""
REDIS_OPERATIONS = ("record", "counters", "pages", "site", "info", "other")
"""Every value of va_redis_errors_total's operation label (service/storage's redis_errors calls)."""
REDIS_ERROR_KINDS = ("unavailable", "oom", "readonly", "auth", "unsupported_version", "other", "unconfirmed")
"""Every value of va_redis_errors_total's kind label (service/storage/replies.py's classify)."""
CACHE_RESULTS = ("hit", "miss", "stale")
"""Every value of va_counters_cache_total's result label."""


def start_labelled_counters_at_zero() -> None:
    """Export every labelled counter at 0 for each known label value, once per worker.

    A series that appears only at its first increment has no earlier sample to compare with,
    so increase() and rate() over it stay 0 and an alert on its first 50 dropped hits never fires.
    """
    for outcome in OUTCOMES:
        hits(outcome)
    for operation in REDIS_OPERATIONS:
        for kind in REDIS_ERROR_KINDS:
            REDIS_ERRORS.labels(operation=operation, kind=kind)
    for result in CACHE_RESULTS:
        COUNTERS_CACHE.labels(result=result)
    for where in ("bearer", "signin"):
        AUTH_FAILURES.labels(where=where)


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


def buffered_in_instance(own: int) -> int:
    """Hits buffered in every worker of this instance, summed from the multiprocess gauge files
    (``own``, this worker's, when there is no shared folder or a file vanished mid-read)."""
    import glob
    import os

    BUFFER_DEPTH.set(own)  # this worker's share, fresh
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return own
    from prometheus_client.multiprocess import MultiProcessCollector

    try:
        merged = MultiProcessCollector.merge(glob.glob(os.path.join(folder, "gauge_livesum_*.db")), accumulate=False)
    except (OSError, ValueError):
        return own
    return int(sum(sample.value for metric in merged if metric.name == "va_buffer_hits" for sample in metric.samples))
