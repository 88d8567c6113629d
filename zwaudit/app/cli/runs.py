"""``zwaudit runs``: the run history."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from zwaudit.app.cli.context import AppContext
from zwaudit.app.history import run_infos
from zwaudit.run_state import reap_dead_runs


@click.command("runs")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000), help="How many runs.")
@click.option("--trigger", help="Only runs of this trigger (nightly, audit, crawl, …).")
@click.pass_obj
def command(app: AppContext, limit: int, trigger: str | None) -> None:
    """List the newest runs with their finding counts by status (running, ok, failed, or
    interrupted: its process died before it finished)."""
    reap_dead_runs(app.sessions())
    with app.sessions()() as session:
        infos = run_infos(session, limit=limit, trigger=trigger)
    if not infos:
        click.echo("no runs stored yet")
        return
    table = Table(
        "run",
        "trigger",
        "status",
        "started (UTC)",
        "elapsed",
        "portals",
        "pass",
        "fail",
        "error",
        "n/a",
        "note",
    )
    for r in infos:
        elapsed = f"{r.elapsed_s:.0f}s" if r.elapsed_s is not None else "-"
        table.add_row(
            str(r.id),
            r.trigger,
            r.status,
            f"{r.started_at:%Y-%m-%d %H:%M}",
            elapsed,
            str(r.portals),
            *(str(r.counts.get(s, 0)) for s in ("pass", "fail", "error", "not_applicable")),
            r.note if len(r.note) <= 60 else r.note[:59] + "…",
        )
    Console(width=max(Console().width, 150)).print(table)
