"""Accessors for the per-app objects the factory builds, for use inside requests."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from .caches import MISSING
from .errors import RedisReplyError, StorageUnavailable, UnknownSite
from .model.sites import Site


def settings():
    return current_app.extensions["settings"]


def store():
    return current_app.extensions["store"]


def recorder():
    return current_app.extensions["recorder"]


def counter_cache():
    return current_app.extensions["counter_cache"]


def clock() -> datetime:
    return current_app.config["CLOCK"]()


def lookup_site(site_id: str) -> Site:
    """The registered site, through the short site cache, or UnknownSite (404)."""
    return find_site(current_app.extensions["site_cache"], store(), site_id)


def find_site(cache, store, site_id: str) -> Site:
    """The registered site from ``cache`` or else the store, or UnknownSite (404)."""
    site = cache.get(site_id, MISSING)
    if site is MISSING:
        try:
            site = store.get_site(site_id)
        except (StorageUnavailable, RedisReplyError):
            # Redis away: keep counting known sites on their last settings (hits get buffered).
            site = cache.get_stale(site_id)
            if site is None:
                raise
        cache.put(site_id, site)
    if site is None:
        raise UnknownSite(f"no site {site_id!r} is registered here")
    return site


def forget_site(site_id: str) -> None:
    """Drop a site from this process's caches after an admin change, so it shows at once here."""
    current_app.extensions["site_cache"].pop(site_id)
    counter_cache().forget(site_id)
