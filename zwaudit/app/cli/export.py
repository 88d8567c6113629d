"""``zwaudit export``: the evidence CSV (and optional zip bundle) of one run."""

from __future__ import annotations

from pathlib import Path

import click

from zwaudit.app.cli.context import AppContext
from zwaudit.app.cli.report import optional_config
from zwaudit.app.export import ExportFilter, check_filter, export_csv, redactors_for
from zwaudit.app.export_bundle import write_bundle
from zwaudit.db.store import resolve_run
from zwaudit.outcomes import Status
from zwaudit.paths import out_dir


@click.command("export")
@click.option("--run", "run", default="latest", show_default=True, help="Run id or 'latest'.")
@click.option("--portal", "portals", multiple=True, help="Only this portal (repeatable).")
@click.option("--probe", "probes", multiple=True, help="Only this probe (repeatable).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in Status]),
    help="Only findings with this status (repeatable).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file to write (default: out/findings-run<ID>.csv).",
)
@click.option("--zh", is_flag=True, help="Chinese column headers.")
@click.option(
    "--bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a zip with the CSV, the evidence files and a sha256 manifest.",
)
@click.pass_obj
def command(
    app: AppContext,
    run: str,
    portals: tuple[str, ...],
    probes: tuple[str, ...],
    statuses: tuple[str, ...],
    out: Path | None,
    zh: bool,
    bundle: Path | None,
) -> None:
    """Export findings as a CSV that opens correctly in Chinese Excel (UTF-8 with BOM).

    Cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) are
    prefixed with ' so scraped text cannot inject formulas.
    """
    sf = app.sessions()
    with sf() as session:
        run_id = resolve_run(session, run)
    flt = ExportFilter(run_id, portals, probes, statuses)
    check_filter(sf, flt)
    target = out or out_dir() / f"findings-run{run_id}.csv"
    config = optional_config(app)
    redactors = redactors_for(config) if config else []
    result = export_csv(sf, flt, target, zh=zh, redactors=redactors, collect_evidence=bundle is not None)
    click.echo(f"run {run_id}: {result.rows} findings -> {target}")
    if bundle is not None:
        filters = {"portal": list(portals), "probe": list(probes), "status": list(statuses)}
        packed = write_bundle(bundle, target, result.evidence, run_id=run_id, filters=filters)
        note = ""
        if packed.missing or packed.mismatched:
            note = f" ({len(packed.missing)} missing, {len(packed.mismatched)} sha256 mismatches: see manifest.json)"
        click.echo(f"bundle: {packed.files} files -> {bundle}{note}")
