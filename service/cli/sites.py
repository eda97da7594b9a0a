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
@click.option("--group", default=None, help="The group whose counters this site joins (an id like a site's).")
@click.pass_obj
@redis_guard
def sites_add(obj, site, domains, zone, page_params, group):
    """Create or update SITE counting pages on DOMAINS (host names, IPs, *.wildcards)."""
    from ..errors import BadRequest

    body = {"domains": list(domains), "page_params": list(page_params)}
    if zone:
        body["timezone"] = zone
    if group:
        body["group"] = group
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


@sites.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.pass_obj
@redis_guard
def sites_import(obj, file):
    """Create or update the sites of FILE (CSV site,domains,timezone,group, or JSON {"sites": [...]}; - for stdin).

    Each row on its own: a bad row is reported and changes nothing. Exit 0 when every row applied,
    1 when some were refused (the report on stdout as JSON says which).
    """
    from .. import operations
    from ..errors import BadRequest
    from ..model import site_rows

    with click.open_file(file, "rb") as stream:
        head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
        is_json = file.lower().endswith(".json") or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
        try:
            rows = site_rows.json_rows(stream) if is_json else site_rows.csv_rows(stream)
            report = operations.import_sites(obj.store, rows, obj.settings.DEFAULT_TIMEZONE)
        except BadRequest as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(EXIT_USAGE)
    click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    if report.errors:
        sys.exit(EXIT_NOT_FOUND)


@sites.command("export")
@click.pass_obj
@redis_guard
def sites_export(obj):
    """Print every site as CSV (site,domains,timezone,group), the form `sites import` reads."""
    from .. import operations

    for text in operations.export_sites(obj.store):
        click.echo(text, nl=False)
