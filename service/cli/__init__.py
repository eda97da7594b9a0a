"""The `visitor-analytics` command: serve the app, and manage sites from a shell.

Exit codes: 0 done, 1 not found (unknown site), 2 bad usage or value (an argument, an option or
a setting from the environment), 3 Redis unreachable.
"""

from __future__ import annotations

import click

from .common import Context
from .numbers import baseline, counters, history, pages
from .serve import serve
from .sites import sites
from .tokens import tokens


@click.group()
@click.version_option(package_name="visitor-analytics", prog_name="visitor-analytics")
@click.pass_context
def main(ctx):
    """Self-hosted visitor counter for web portals (settings come from environment variables)."""
    ctx.obj = Context()


for command in (serve, sites, tokens, baseline, pages, counters, history):
    main.add_command(command)
