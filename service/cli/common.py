"""What every command shares: settings and store opened on first use, exit codes, argument types."""

from __future__ import annotations

import functools
import sys

import click

from ..errors import RedisReplyError, StorageUnavailable
from ..model.sites import Site, valid_site_id
from ..ops.redact import redact
from ..settings import Settings, SettingsError
from ..storage import CounterStore

EXIT_NOT_FOUND, EXIT_USAGE, EXIT_REDIS = 1, 2, 3
DEMO_SITE = "demo"


def load_settings() -> Settings:
    """The settings from the environment; a bad one is a bad value: exit 2, not 1 ("not found")."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        click.echo(f"error: bad setting: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def open_store(settings: Settings) -> CounterStore:
    # A person at a shell can wait longer than a hit can.
    return CounterStore.from_settings(settings, timeout_seconds=max(settings.REDIS_TIMEOUT_SECONDS, 2.0))


class Context:
    """Settings and store, opened on first use so `--help` needs no Redis."""

    def __init__(self):
        self._store = None

    @property
    def settings(self) -> Settings:
        return load_settings()

    @property
    def store(self) -> CounterStore:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store


def redis_guard(fn):
    """Turn an unreachable Redis into a one-line message and exit code 3."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StorageUnavailable:
            click.echo(f"error: Redis at {redact(load_settings().REDIS_URL)} is unreachable "
                       "(check REDIS_URL and that Redis runs)", err=True)
            sys.exit(EXIT_REDIS)
        except RedisReplyError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(EXIT_REDIS)
    return wrapper


def require_site(store: CounterStore, site_id: str) -> Site:
    site = store.get_site(site_id)
    if site is None:
        click.echo(f"error: no site {site_id!r}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    return site


def site_id_type(value: str) -> str:
    if not valid_site_id(value):
        raise click.BadParameter("site ids match [a-z0-9][a-z0-9-]{0,62}")
    return value
