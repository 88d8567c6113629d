"""``zwaudit nightly``: the whole nightly job as one run, with exit codes for schedulers."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import click
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.app.cli.context import AppContext
from zwaudit.app.nightly import NightlyOptions, NightlyResult, run_nightly
from zwaudit.app.progress import ProgressSink, RichProgress, progress_for_terminal
from zwaudit.config import Config
from zwaudit.errors import UsageError
from zwaudit.lock import DEFAULT_STALE_AFTER_S
from zwaudit.paths import out_dir


def distributed(config: Config, db_url: str, workers: int | None) -> bool:
    """Fleet mode: PostgreSQL and (``queue:`` in settings or ``--workers``); SQLite never."""
    from zwaudit.db.engine import is_postgresql

    if workers is not None and not is_postgresql(db_url):
        raise UsageError("--workers needs a PostgreSQL database (the queue lives there)")
    return is_postgresql(db_url) and (workers is not None or config.settings.queue is not None)


def run_fleet(
    config: Config,
    sf: sessionmaker[Session],
    *,
    db_url: str,
    options: NightlyOptions,
    progress: ProgressSink,
    workers: int | None,
) -> NightlyResult:
    from zwaudit.app.fleet.coordinator import run_fleet_nightly
    from zwaudit.app.fleet.worker import local_workers

    with local_workers(workers or 0, config.directory, db_url):
        return run_fleet_nightly(config, sf, db_url=db_url, options=options, progress=progress)


@click.command("nightly")
@click.option("--portal", "portals", multiple=True, help="Only this portal (repeatable; default: all).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the CSV, the bundle and report/ (default: out/).",
)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when the run has new fails or indicator drops compared with the previous nightly run.",
)
@click.option(
    "--lock-timeout",
    default=DEFAULT_STALE_AFTER_S,
    show_default=True,
    type=click.FloatRange(min=10),
    help="Seconds without a heartbeat after which another run's lock counts as stale.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0, max=64),
    default=None,
    help="Run as a fleet on the PostgreSQL queue (also the default when settings.yaml has queue:), "
    "starting N local `zwaudit worker` processes for the run (0: only the workers already running).",
)
@click.pass_obj
def command(
    app: AppContext,
    portals: tuple[str, ...],
    out: Path | None,
    fail_on_regression: bool,
    lock_timeout: float,
    workers: int | None,
) -> None:
    """Crawl, probe, score, export and report every configured portal as one run.

    Exit codes: 0 ok, 1 regressions (with --fail-on-regression), 2 usage/config error,
    3 run error (another run holds the lock, or a stage failed).
    """
    config = app.config
    sf = app.sessions()
    options = NightlyOptions(
        portal_ids=list(portals) or None,
        out=(out or out_dir()).resolve(),
        fail_on_regression=fail_on_regression,
        stale_after_s=lock_timeout,
    )
    progress = progress_for_terminal()
    db_url = app.engine.url.render_as_string(hide_password=False)
    with progress if isinstance(progress, RichProgress) else nullcontext():
        if distributed(config, db_url, workers):
            result = run_fleet(config, sf, db_url=db_url, options=options, progress=progress, workers=workers)
        else:
            result = run_nightly(config, sf, db_url=db_url, options=options, progress=progress)
    click.echo(f"nightly run {result.run_id}:")
    for stage, state in result.stages.items():
        click.echo(f"  {stage:<8} {state}")
    for label, path in (("report", result.report), ("csv", result.csv), ("bundle", result.bundle)):
        if path is not None:
            click.echo(f"  {label:<8} {path}")
    if result.diff is not None:
        new, drops = result.diff.regressions
        click.echo(
            f"  compared with run {result.previous_run} (the last completed nightly run): {len(new)} new "
            f"fails, {len(result.diff.of_kind('fixed'))} fixed, {len(drops)} indicator drops"
        )
    elif result.stages.get("diff") == "ok":
        click.echo("  no completed earlier nightly run to compare with")
    if result.webhook_delivered is not None:
        click.echo(f"  webhook  {'delivered' if result.webhook_delivered else 'FAILED (see log)'}")
    click.get_current_context().exit(result.exit_code)
