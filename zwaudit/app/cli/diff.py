"""``zwaudit diff``: what changed between two runs."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from zwaudit.app.cli.context import AppContext
from zwaudit.app.history import RunDiff, diff_runs, incomplete, last_two_runs
from zwaudit.db.store import resolve_run
from zwaudit.run_state import reap_dead_runs

KIND_LABEL = {"new": "new fail", "fixed": "fixed", "unresolved": "not re-checked", "changed": "changed"}


@click.command("diff")
@click.argument("run_a", required=False)
@click.argument("run_b", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the regression summary as JSON.")
@click.pass_obj
def command(app: AppContext, run_a: str | None, run_b: str | None, as_json: bool) -> None:
    """Compare RUN_A with RUN_B (default: the last two completed runs): new, fixed and changed
    findings, and indicator moves, per portal. Only (portal, probe) pairs examined in both are
    compared. Runs that were interrupted or failed are never picked by default (their findings are
    partial); named explicitly, they are compared with a warning."""
    reap_dead_runs(app.sessions())
    with app.sessions()() as session:
        if run_a is None and run_b is None:
            a, b = last_two_runs(session)
        elif run_a is not None and run_b is not None:
            a, b = resolve_run(session, run_a), resolve_run(session, run_b)
        else:
            raise click.UsageError("give two runs, or none for the last two completed runs")
        partial = incomplete(session, (a, b))
        diff = diff_runs(session, a, b)
    for run_id, status in sorted(partial.items()):
        click.echo(f"warning: run {run_id} is {status}, not complete: its findings are partial", err=True)
    if as_json:
        click.echo(json.dumps(diff.summary(), ensure_ascii=False, indent=2))
        return
    print_diff(diff, Console(width=max(Console().width, 120)))


def print_diff(diff: RunDiff, console: Console) -> None:
    new, drops = diff.regressions
    console.print(
        f"run {diff.run_a} → run {diff.run_b}: {len(new)} new fails, {len(diff.of_kind('fixed'))} fixed, "
        f"{len(diff.of_kind('changed'))} changed, {len(diff.of_kind('unresolved'))} not re-checked, "
        f"{len(diff.moves)} indicator moves ({len(drops)} drops)"
    )
    for pairs, where in ((diff.only_a, diff.run_a), (diff.only_b, diff.run_b)):
        if pairs:
            listed = ", ".join(f"{p}/{c}" for p, c in pairs[:10]) + (" …" if len(pairs) > 10 else "")
            console.print(f"not compared (only in run {where}): {listed}")
    for portal in diff.portals():
        changes = [c for c in diff.changes if c.portal_id == portal]
        moves = [m for m in diff.moves if m.portal_id == portal]
        if changes:
            table = Table(
                "change", "probe", "target", "code", f"run {diff.run_a}", f"run {diff.run_b}", title=portal
            )
            for c in changes:
                table.add_row(KIND_LABEL[c.kind], c.probe, c.target, c.code or "", c.before, c.after)
            console.print(table)
        if moves:
            table = Table(
                "framework", "indicator", "before", "after", "Δ", "band", title=f"{portal} indicators"
            )
            for m in moves:
                delta = f"{m.delta:+.2f}" if m.delta is not None else ""
                table.add_row(
                    m.framework,
                    m.indicator,
                    _num(m.before),
                    _num(m.after),
                    delta,
                    f"{m.band_before or '-'} → {m.band_after or '-'}"
                    if m.band_before != m.band_after
                    else "",
                )
            console.print(table)


def _num(value: float | None) -> str:
    return "missing" if value is None else f"{value:.2f}"
