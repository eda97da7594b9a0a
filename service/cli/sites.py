"""`visitor-analytics sites`: register, list, show and remove sites."""

from __future__ import annotations

import json
import sys

import click

from ..model.sites import Site
from .common import EXIT_NOT_FOUND, EXIT_USAGE, redis_guard, require_site, site_id_type


@click.group()
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
