"""visitor-analytics: a self-hosted visitor counter for web portals."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from flask import Flask


def utc_now() -> datetime:
    """The service's clock: it, not Redis's, decides which day a hit belongs to."""
    return datetime.now(timezone.utc)


def check_redis(store, journal) -> None:
    """Say loudly at start what will stop hits from counting (no crash: Redis may be down now)."""
    import logging

    from .errors import RedisReplyError, StorageUnavailable

    log = logging.getLogger("service.startup")
    if problem := journal.problem():
        log.error(problem)
    try:
        for _, message in store.server_problems():
            log.error("%s: hits are buffered, not counted, until this is fixed", message)
        durability = store.durability()
    except StorageUnavailable:
        log.warning("Redis unreachable at start: hits are buffered until it answers")
        return
    except RedisReplyError:
        return  # logged at ERROR by the store
    for message in durability.errors:
        log.error(message)
    for message in durability.warnings:
        log.warning(message)


def warn_if_metrics_per_worker() -> None:
    """Under gunicorn with several workers, /metrics needs the shared folder: say so if missing."""
    import logging
    import sys

    if "gunicorn" not in sys.modules or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    workers = launch_workers()
    if workers != 1:
        logging.getLogger("service.startup").warning(
            "gunicorn runs %s workers without PROMETHEUS_MULTIPROC_DIR: /metrics answers one worker's "
            "numbers. Start gunicorn from the project folder (it reads gunicorn.conf.py) or with "
            "-c python:service.gunicorn_config.", workers if workers else "several")


def launch_workers() -> int | None:
    """How many workers the running gunicorn was started with (its own parser reads its argv)."""
    import shlex
    import sys

    from gunicorn.config import Config

    try:
        argv = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", "")) + sys.argv[1:]
        args, _ = Config().parser().parse_known_args(argv)
    except (SystemExit, ValueError):
        return None
    return args.workers or int(os.environ.get("WEB_CONCURRENCY", "1") or 1)


def create_app(config: dict | None = None) -> Flask:
    """Build the WSGI app from the environment, with ``config`` overriding it."""
    # Imported here, not at module level: gunicorn's master imports this package to read
    # service.gunicorn_config and must not create per-process metric files.
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import embeds, errors, logs, metrics
    from .caches import ReadThrough, TtlCache
    from .counter_cache import CounterCache
    from .pipeline import HitPipeline
    from .recorder import BufferedRecorder
    from .dashboard import views as dashboard
    from .routes import admin, counters, docs, ingest, ops, pages, shares
    from .settings import Settings
    from .store import CounterStore

    app = Flask(__name__)
    env = Settings.from_env()
    settings = Settings.from_mapping({**env.as_dict(), **(config or {})})
    app.config.from_mapping(settings.as_dict())
    app.config.update({k: v for k, v in (config or {}).items() if k not in settings.as_dict()})
    app.config.setdefault("CLOCK", utc_now)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.json.sort_keys = False
    # "//" in a path is a 404 in the JSON envelope, not an HTML redirect to a merged path.
    app.url_map.merge_slashes = False

    logs.configure(settings.LOG_LEVEL)
    metrics.start_labelled_counters_at_zero()
    store = CounterStore.from_settings(settings)
    app.extensions["settings"] = settings
    app.extensions["store"] = store
    recorder = BufferedRecorder(store, settings.FLUSH_INTERVAL_MS / 1000, settings.MAX_BUFFERED_HITS,
                                settings.JOURNAL_DIR or None)
    check_redis(store, recorder.journal)
    recorder.replay_journal()
    app.extensions["recorder"] = recorder
    app.extensions["site_cache"] = TtlCache(settings.SITE_CACHE_SECONDS)
    app.extensions["hits"] = HitPipeline(store, recorder, app.extensions["site_cache"], app.config["CLOCK"],
                                         settings.DEFAULT_TIMEZONE)
    app.extensions["durability_cache"] = TtlCache(60)
    warn_if_metrics_per_worker()
    app.extensions["counter_cache"] = CounterCache(store, settings.COUNTERS_CACHE_SECONDS,
                                                   settings.week_start_index)
    # Page views and most-read lists, polled like the counters: Redis reads stay flat.
    app.extensions["page_cache"] = ReadThrough(settings.COUNTERS_CACHE_SECONDS)

    if settings.TRUSTED_PROXIES:
        # x_proto too: behind an HTTPS proxy the dashboard's cookies are marked Secure.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.TRUSTED_PROXIES, x_proto=settings.TRUSTED_PROXIES)

    for blueprint in (ingest.bp, counters.bp, pages.bp, admin.bp, shares.bp, ops.bp, docs.bp, embeds.bp,
                      dashboard.bp):
        app.register_blueprint(blueprint)
    if os.environ.get("VA_BENCH_FLOOR") == "1":  # bench/ only: the baseline route of the ratio
        from .routes import floor

        app.register_blueprint(floor.bp)
    errors.register(app)
    logs.register(app)
    return app
