"""``zwaudit score``: indicator values from a run's stored findings (no crawl), ranked by band."""

from __future__ import annotations

from pathlib import Path

import click

from zwaudit.app.cli.context import AppContext
from zwaudit.db import store as core_store
from zwaudit.errors import UsageError


@click.command("score")
@click.option("--run", "run", default="latest", show_default=True, help="Run id, or 'latest'.")
@click.option(
    "--framework",
    "frameworks",
    multiple=True,
    help="Framework id (ccps, cstc2021, …); repeatable. Default: every framework in config/frameworks/.",
)
@click.option(
    "--manual",
    "manual_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Auditor's CSV (portal_id,framework,indicator,value,source,entered_by[,note]) stored for the run first.",
)
@click.option(
    "--explain", is_flag=True, help="Show one portal's tree with the findings and inputs behind it."
)
@click.option("--portal", "portal_id", help="The portal to explain (with --explain).")
@click.pass_obj
def command(
    app: AppContext,
    run: str,
    frameworks: tuple[str, ...],
    manual_csv: Path | None,
    explain: bool,
    portal_id: str | None,
) -> None:
    """Compute and store indicator values for every portal of a run, and print the ranking.

    Rescoring a run replaces its values (same findings, same values).
    """
    from scoring import api, report
    from scoring import store as scoring_store

    if explain != (portal_id is not None):
        raise UsageError("--explain and --portal go together: zwaudit score --explain --portal ID")
    config = app.config
    sf = app.sessions()
    with sf() as session:
        run_id = core_store.resolve_run(session, run)
    if manual_csv is not None:
        ids = api.import_manual_csv(sf, config, manual_csv, run_id)
        click.echo(f"stored {len(ids)} manual input(s) from {manual_csv} for run {run_id}", err=True)
    results = api.score_run(sf, run_id, list(frameworks) or None, config)
    if portal_id is not None:
        if not any(s.portal_id == portal_id for scores in results.values() for s in scores):
            raise UsageError(f"portal {portal_id!r} has nothing to score in run {run_id}")
        with sf() as session:
            for framework_id in results:
                framework = api.load_framework(config, framework_id)
                rows = {
                    v.indicator: v
                    for v in scoring_store.stored_values(session, run_id, framework_id, portal_id)
                }
                finding_ids = [
                    i for v in rows.values() for k in ("findings", "ignored") for i in v.inputs.get(k, [])
                ]
                manual_ids = [i for v in rows.values() for i in v.inputs.get("manual", [])]
                click.echo(
                    report.explain(
                        framework,
                        run_id,
                        portal_id,
                        rows,
                        scoring_store.findings_by_id(session, finding_ids),
                        scoring_store.manual_by_id(session, manual_ids),
                    )
                )
        return
    with sf() as session:
        names = scoring_store.portal_names(session, [s.portal_id for v in results.values() for s in v])
    for framework_id, scores in results.items():
        framework = api.load_framework(config, framework_id)
        click.echo(report.ranking_table(framework, run_id, scores, names))
