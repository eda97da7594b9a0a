"""The `visitor-analytics` command: serve the app, and manage sites from a shell.

Exit codes: 0 done, 1 not found (unknown site), 2 bad usage or value (an argument, an option or
a setting from the environment), 3 Redis unreachable.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from ..errors import RedisReplyError, StorageUnavailable
from ..ops.redact import redact
from ..settings import Settings, SettingsError
from ..model.sites import Site, valid_site_id
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
    import functools

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


@click.group()
@click.version_option(package_name="visitor-analytics", prog_name="visitor-analytics")
@click.pass_context
def main(ctx):
    """Self-hosted visitor counter for web portals (settings come from environment variables)."""
    ctx.obj = Context()


# --- serve ---------------------------------------------------------------------------------


def demo_share(store, env: dict, base: str) -> str:
    """A day-long share link to the demo site's dashboard; with neither ADMIN_TOKEN nor SECRET_KEY
    set, the workers get a random SECRET_KEY for this run (sessions end when it stops)."""
    import secrets

    from .. import utc_now
    from ..model import shares

    if not env.get("ADMIN_TOKEN") and not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = secrets.token_urlsafe(32)
    share_id, secret, record = shares.new_share(DEMO_SITE, {"label": "make run", "expires_in_days": 1}, utc_now())
    store.put_share(DEMO_SITE, share_id, record)
    return f"{base}/dashboard/share/{secret}"


@main.command()
@click.option("--port", default=8000, show_default=True, envvar="PORT", help="TCP port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 for all).")
@click.option("--data-dir", default="data", show_default=True, envvar="DATA_DIR", type=click.Path(),
              help="Folder of the embedded Redis's data (used only when REDIS_URL is unset).")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Register a 'demo' site for localhost so the demo page counts itself.")
def serve(port, host, data_dir, demo):
    """Run the service on gunicorn; start a private Redis when REDIS_URL is unset."""
    from ..ops.listeners import bind_error
    from ..ops.redis_process import DirectoryInUse, RedisProcess, server_version

    env = dict(os.environ)
    taken = bind_error((host, port)) if "BIND" not in env else None
    if taken is not None:  # before starting anything (gunicorn would refuse it too, later)
        click.echo(f"error: cannot listen on {host}:{port}: {taken.strerror} (another instance?)", err=True)
        sys.exit(EXIT_USAGE)
    redis_process = None
    if not env.get("REDIS_URL"):
        redis_process = RedisProcess(Path(data_dir).resolve() / "redis", appendonly=True, kind="embedded")
        try:
            redis_process.start()
        except DirectoryInUse as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_REDIS)
        env["REDIS_URL"] = redis_process.url
        click.echo(f"embedded {server_version(redis_process.binary)} ({redis_process.binary}), AOF on, "
                   f"at {redis_process.url}, data in {redis_process.directory}")
    os.environ["REDIS_URL"] = env["REDIS_URL"]
    try:
        store = open_store(load_settings())
        for kind, message in store.server_problems():
            if kind == "unsupported_version":
                click.echo(f"error: {message}", err=True)
                sys.exit(EXIT_REDIS)
        if demo:
            store.put_site(Site(DEMO_SITE, ("localhost", "127.0.0.1", "::1"), load_settings().DEFAULT_TIMEZONE))
        env.setdefault("BIND", f"{host}:{port}")
        base = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
        click.echo(f"visitor-analytics on {base}/ (demo page; Ctrl-C stops)")
        if demo:
            click.echo(f"dashboard of the demo site (read-only share link, valid a day): {demo_share(store, env, base)}")
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_config",
                                   "service:create_app()"], env=env)
        forward = lambda signum, frame: server.send_signal(signum)  # noqa: E731
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        code = server.wait()
    except StorageUnavailable:
        click.echo(f"error: Redis at {redact(env['REDIS_URL'])} is unreachable", err=True)
        code = EXIT_REDIS
    except RedisReplyError as exc:
        click.echo(f"error: {exc.message}", err=True)
        code = EXIT_REDIS
    finally:
        if redis_process:
            redis_process.stop()
    sys.exit(code)


# --- sites ---------------------------------------------------------------------------------


@main.group()
def sites():
    """Register, list, show and remove sites."""


@sites.command("add")
@click.argument("site", type=site_id_type)
@click.argument("domains", nargs=-1, required=True)
@click.option("--timezone", "zone", default=None, help="IANA zone (default: DEFAULT_TIMEZONE).")
@click.option("--page-param", "page_params", multiple=True,
              help="A query parameter that tells pages apart (e.g. id for ?id=1234); repeatable.")
@click.pass_obj
@redis_guard
def sites_add(obj, site, domains, zone, page_params):
    """Create or update SITE counting pages on DOMAINS (host names, IPs, *.wildcards)."""
    from ..errors import BadRequest

    body = {"domains": list(domains), "page_params": list(page_params)}
    if zone:
        body["timezone"] = zone
    try:
        parsed = Site.from_request(site, body, obj.settings.DEFAULT_TIMEZONE)
    except BadRequest as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EXIT_USAGE)
    created = obj.store.put_site(parsed)
    click.echo(f"{'created' if created else 'updated'} {site}: {', '.join(parsed.domains)} ({parsed.timezone})")


@sites.command("list")
@click.pass_obj
@redis_guard
def sites_list(obj):
    """Print every registered site id, one per line."""
    for site in obj.store.list_sites():
        click.echo(site)


@sites.command("show")
@click.argument("site", type=site_id_type)
@click.pass_obj
@redis_guard
def sites_show(obj, site):
    """Print SITE's settings as JSON."""
    click.echo(json.dumps(require_site(obj.store, site).as_json(), indent=2, ensure_ascii=False))


@sites.command("remove")
@click.argument("site", type=site_id_type)
@click.option("--purge", is_flag=True, help="Also erase its counters and history (cannot be undone).")
@click.pass_obj
@redis_guard
def sites_remove(obj, site, purge):
    """Stop counting SITE; its numbers stay unless --purge."""
    if not obj.store.delete_site(site, purge=purge):
        click.echo(f"error: no site {site!r}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    click.echo(f"removed {site}{' and erased its data' if purge else ''}")


# --- numbers -------------------------------------------------------------------------------


@main.group()
def baseline():
    """Show or set the all-time numbers imported from an older counter."""


@baseline.command("set")
@click.argument("site", type=site_id_type)
@click.option("--visits", type=click.IntRange(0, 10**15), default=None)
@click.option("--pageviews", type=click.IntRange(0, 10**15), default=None)
@click.option("--visitors", type=click.IntRange(0, 10**15), default=None)
@click.option("--zero", is_flag=True, help="Reset the baseline to 0 (needed to set it with no number).")
@click.option("--source", default="", help='Where the numbers come from, e.g. "old portal counter".')
@click.pass_obj
@redis_guard
def baseline_set(obj, site, visits, pageviews, visitors, zero, source):
    """Replace SITE's baseline (setting it twice never adds twice; a number left out is 0); the change is logged."""
    given = [n for n in (visits, pageviews, visitors) if n is not None]
    if not given and not zero:
        # Without a number this would replace the imported all-time totals with 0.
        raise click.UsageError("give --visits, --pageviews and/or --visitors, or --zero to reset the baseline to 0")
    if given and zero:
        raise click.UsageError("--zero takes no --visits, --pageviews or --visitors")
    visits, pageviews, visitors = (n or 0 for n in (visits, pageviews, visitors))
    require_site(obj.store, site)
    audit = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "by": os.environ.get("USER", "cli"), "source": source}
    values = obj.store.set_baseline(site, {"visits": visits, "pageviews": pageviews, "visitors": visitors}, audit)
    click.echo(f"baseline of {site}: " + ", ".join(f"{k} {v}" for k, v in values.items()))


@baseline.command("show")
@click.argument("site", type=site_id_type)
@click.pass_obj
@redis_guard
def baseline_show(obj, site):
    """Print SITE's baseline and who changed it when, newest first."""
    require_site(obj.store, site)
    current, log = obj.store.get_baseline(site)
    click.echo(json.dumps({"baseline": current, "changes": log}, indent=2, ensure_ascii=False))


@main.group()
def pages():
    """Per-page view counts ("Lượt xem")."""


@pages.command("import")
@click.argument("site", type=site_id_type)
@click.argument("file", type=click.File("rb"))
@click.option("--source", default="", help='Where the numbers come from, e.g. "old CMS export".')
@click.pass_obj
@redis_guard
def pages_import(obj, site, file, source):
    """Replace the baseline views of the pages in FILE (CSV path,views; or JSON {"pages": {...}})."""
    from ..model import page_baseline
    from ..errors import BadRequest

    found = require_site(obj.store, site)
    json_file = file.name.endswith(".json") if hasattr(file, "name") else False
    rows = page_baseline.json_rows(file) if json_file else page_baseline.csv_rows(file)
    try:
        report = page_baseline.run_import(rows, found.page_params,
                                          lambda chunk: obj.store.set_page_baselines(site, chunk))
    except BadRequest as exc:
        click.echo(f"error: {exc.message}; nothing was imported", err=True)
        sys.exit(EXIT_USAGE)
    obj.store.log_page_baseline(site, {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                       "by": os.environ.get("USER", "cli"), "source": source,
                                       **{k: v for k, v in report.as_json().items() if k != "rejections"}})
    click.echo(f"{site}: {report.rows_read} rows read, {report.imported} imported "
               f"({report.changed} changed), {report.rejected} rejected")
    for rejection in report.rejections:
        where = "line" if "line" in rejection else "entry"
        click.echo(f"  rejected {where} {rejection[where]}: {rejection['reason']}", err=True)


@main.command()
@click.argument("site", type=site_id_type)
@click.pass_obj
@redis_guard
def counters(obj, site):
    """Print SITE's online / today / week / total numbers as JSON."""
    found = require_site(obj.store, site)
    numbers = obj.store.read_counters(found, datetime.now(timezone.utc), obj.settings.week_start_index)
    click.echo(json.dumps({"site": site, **numbers}, indent=2))


@main.command()
@click.argument("site", type=site_id_type)
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row instead of JSON.")
@click.pass_obj
@redis_guard
def history(obj, site, days, as_csv):
    """Print one row per local day of SITE, oldest first."""
    found = require_site(obj.store, site)
    today = datetime.now(timezone.utc).astimezone(found.tz).date()
    rows = obj.store.history(found, [today - timedelta(days=n) for n in range(days - 1, -1, -1)])
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=["date", "visits", "pageviews", "visitors"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        click.echo(json.dumps(rows, indent=2))
