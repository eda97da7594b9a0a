"""`visitor-analytics tokens`: make, list and revoke site tokens (the same operations as the API)."""

from __future__ import annotations

import json
import sys

import click

from .. import operations, utc_now
from ..errors import ApiError
from ..model import tokens as token_values
from .common import EXIT_NOT_FOUND, EXIT_USAGE, redis_guard, site_id_type


@click.group()
def tokens():
    """Site tokens: a webmaster's key to their own sites."""


@tokens.command("create")
@click.option("--site", "sites", multiple=True, required=True, type=site_id_type, help="A site it opens; repeatable.")
@click.option("--label", default="", help='Who holds it, e.g. "Phòng Văn hóa".')
@click.option("--days", type=click.IntRange(1, token_values.MAX_EXPIRY_DAYS), default=None,
              help="Expires after this many days (default: never).")
@click.pass_obj
@redis_guard
def tokens_create(obj, sites, label, days):
    """Make a site token and print it (this is the only time it is shown)."""
    try:
        label, sites, days = token_values.parse_request({"label": label, "sites": list(sites), "expires_in_days": days})
        made = operations.create_token(obj.store, label, sites, days, utc_now())
    except ApiError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EXIT_NOT_FOUND if exc.status == 404 else EXIT_USAGE)
    click.echo(json.dumps(made, indent=2, ensure_ascii=False))


@tokens.command("list")
@click.pass_obj
@redis_guard
def tokens_list(obj):
    """Print every site token as JSON, without secrets."""
    click.echo(json.dumps(operations.list_tokens(obj.store, utc_now()), indent=2, ensure_ascii=False))


@tokens.command("revoke")
@click.argument("token_id")
@click.pass_obj
@redis_guard
def tokens_revoke(obj, token_id):
    """Revoke a site token by its id: it and its dashboard sessions stop at once."""
    if not token_values.TOKEN_ID.fullmatch(token_id) or not obj.store.delete_token(token_id):
        click.echo(f"error: no token {token_id[:20]!r}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    click.echo(f"revoked {token_id}")
