"""visitor-analytics: a self-hosted visitor counter for web portals."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask


def utc_now() -> datetime:
    """The service's clock: it, not Redis's, decides which day a hit belongs to."""
    return datetime.now(timezone.utc)


def create_app(config: dict | None = None) -> Flask:
    """Build the WSGI app from the environment, with ``config`` overriding it."""
    # Imported here, not at module level: gunicorn's master imports this package to read
    # service.gunicorn_config and must not create per-process metric files.
    from werkzeug.middleware.proxy_fix import ProxyFix

    from .api import embeds
    from . import errors
    from .ops.startup import check_redis, warn_if_metrics_per_worker
    from .ops import logs, metrics
    from .caches import ReadThrough, TtlCache
    from .counter_cache import CounterCache
    from .ingest.pipeline import HitPipeline
    from .ingest.recorder import BufferedRecorder
    from . import dashboard
    from .api import admin, breakdowns, counters, docs, groups, ingest, ops, pages, shares, tokens
    from .settings import Settings
    from .storage import CounterStore

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
                                                   settings.week_start_index, settings.READ_CACHE_MAX_BYTES)
    # Page views and most-read lists, polled like the counters: Redis reads stay flat.
    app.extensions["page_cache"] = ReadThrough(settings.COUNTERS_CACHE_SECONDS,
                                               max_bytes=settings.READ_CACHE_MAX_BYTES)

    if settings.TRUSTED_PROXIES:
        # x_proto too: behind an HTTPS proxy the dashboard's cookies are marked Secure.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.TRUSTED_PROXIES, x_proto=settings.TRUSTED_PROXIES)
    else:
        logs.warn_if_behind_an_unknown_proxy(app)

    for blueprint in (ingest.bp, counters.bp, pages.bp, admin.bp, shares.bp, tokens.bp, breakdowns.bp, ops.bp,
                      docs.bp, embeds.bp, dashboard.bp, groups.admin_bp, groups.bp):
        app.register_blueprint(blueprint)
    errors.register(app)
    logs.register(app)
    return app
