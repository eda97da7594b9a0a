"""The numbers from a shell: baselines, page view imports, counters and history."""

from __future__ import annotations

import csv
import json
import os
import sys

import click

from .. import operations, utc_now
from .common import EXIT_USAGE, redis_guard, require_site, site_id_type


@click.group()
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
    found = require_site(obj.store, site)
    values = operations.set_baseline(obj.store, found, {"visits": visits, "pageviews": pageviews, "visitors": visitors},
                                     now=utc_now(), by=os.environ.get("USER", "cli"), source=source)
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


@click.group()
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
        report = operations.import_page_baseline(obj.store, found, rows, now=utc_now(),
                                                 by=os.environ.get("USER", "cli"), source=source)
    except BadRequest as exc:
        click.echo(f"error: {exc.message}; nothing was imported", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"{site}: {report.rows_read} rows read, {report.imported} imported "
               f"({report.changed} changed), {report.rejected} rejected")
    for rejection in report.rejections:
        where = "line" if "line" in rejection else "entry"
        click.echo(f"  rejected {where} {rejection[where]}: {rejection['reason']}", err=True)


@click.command()
@click.argument("site", type=site_id_type)
@click.pass_obj
@redis_guard
def counters(obj, site):
    """Print SITE's online / today / week / total numbers as JSON."""
    found = require_site(obj.store, site)
    numbers = obj.store.read_counters(found, utc_now(), obj.settings.week_start_index)
    click.echo(json.dumps({"site": site, **numbers}, indent=2))


@click.command()
@click.argument("site", type=site_id_type)
@click.option("--days", type=click.IntRange(1, operations.MAX_HISTORY_DAYS), default=30, show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row instead of JSON.")
@click.pass_obj
@redis_guard
def history(obj, site, days, as_csv):
    """Print one row per local day of SITE, oldest first."""
    found = require_site(obj.store, site)
    rows = operations.history(obj.store, found, utc_now(), days)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=["date", "visits", "pageviews", "visitors"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        click.echo(json.dumps(rows, indent=2))
