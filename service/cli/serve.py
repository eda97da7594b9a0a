"""`visitor-analytics serve`: gunicorn with the project's settings, and a private Redis when REDIS_URL is unset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from ..errors import RedisReplyError, StorageUnavailable
from ..model.sites import Site
from ..ops.redact import redact
from .common import DEMO_SITE, EXIT_REDIS, EXIT_USAGE, load_settings, open_store


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


@click.command()
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
