"""``zwaudit audit``: run probes on portals and store one run."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from zwaudit.app.cli.context import AppContext
from zwaudit.app.orchestrator import AuditResult, run_audit
from zwaudit.app.progress import LogProgress
from zwaudit.db.engine import default_url
from zwaudit.outcomes import Status

STATUSES = tuple(s.value for s in Status)


def summary_table(result: AuditResult) -> Table:
    """Findings by portal and check, one column per status."""
    table = Table(title=f"run {result.run_id} ({result.status})")
    table.add_column("portal")
    table.add_column("check")
    for status in STATUSES:
        table.add_column(status, justify="right")
    for (portal_id, check), counts in sorted(result.by_check.items()):
        table.add_row(portal_id, check, *(str(counts.get(s, 0)) for s in STATUSES))
    table.add_row("", "total", *(str(result.counts.get(s, 0)) for s in STATUSES), style="bold")
    return table


@click.command("audit")
@click.option(
    "--portal", "portal_ids", multiple=True, metavar="ID", help="Audit only this portal (repeatable)."
)
@click.option("--probe", "probes", multiple=True, metavar="NAME", help="Run only this check (repeatable).")
@click.pass_obj
def command(app: AppContext, portal_ids: tuple[str, ...], probes: tuple[str, ...]) -> None:
    """Run checks on portals and store a run (default: every check on every portal).

    `--portal X --probe name_masking` reruns exactly one check on one portal.
    """
    config = app.config
    sf = app.sessions()
    result = run_audit(
        config,
        sf,
        portal_ids=list(portal_ids) or None,
        probes=list(probes) or None,
        progress=LogProgress(),
        db_url=app.db_url or default_url(),
    )
    Console(width=None if sys.stdout.isatty() else 200).print(summary_table(result))
    click.echo(f"run {result.run_id}")
