"""``zwaudit rejudge``: today's judges applied to a past run's stored observations."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from zwaudit.app.cli.context import AppContext
from zwaudit.outcomes import Status

STATUSES = tuple(s.value for s in Status)


@click.command("rejudge")
@click.option(
    "--run", "run", default="latest", show_default=True, help="The run to rejudge (an id or 'latest')."
)
@click.option(
    "--portal", "portal_ids", multiple=True, metavar="ID", help="Rejudge only this portal (repeatable)."
)
@click.option(
    "--probe", "probes", multiple=True, metavar="NAME", help="Rejudge only this check (repeatable)."
)
@click.pass_obj
def command(app: AppContext, run: str, portal_ids: tuple[str, ...], probes: tuple[str, ...]) -> None:
    """Judge run RUN's stored observations again with the current judges and rules, into a new
    run marked as derived from it (no browser, no network). Checks without a stored observation
    are listed as not rejudged, with the reason. Compare with `zwaudit diff RUN NEW`."""
    from zwaudit.app.rejudge import rejudge

    result = rejudge(app.config, app.sessions(), run, portal_ids=portal_ids, probes=probes)
    table = Table(title=f"run {result.run_id} (rejudged from run {result.source_run})")
    table.add_column("portal")
    table.add_column("check")
    for status in STATUSES:
        table.add_column(status, justify="right")
    for (portal_id, check), counts in sorted(result.rejudged.items()):
        table.add_row(portal_id, check, *(str(counts.get(s, 0)) for s in STATUSES))
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    for (portal_id, check), reason in sorted(result.not_rejudged.items()):
        click.echo(f"not rejudged {portal_id}/{check}: {reason}")
    click.echo(f"run {result.run_id}")
