"""``zwaudit worker``: run the fleet's jobs (see docs/deployment.md)."""

from __future__ import annotations

import click

from zwaudit.app.cli.context import AppContext
from zwaudit.paths import evidence_root


@click.command("worker")
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(min=1, max=64),
    help="Jobs run at once (each on a different portal; one Chromium, a context per job).",
)
@click.pass_obj
def command(app: AppContext, concurrency: int) -> None:
    """Run crawl and check jobs from the PostgreSQL queue until SIGTERM (graceful: running jobs finish).

    Start one per machine (a systemd service); `zwaudit nightly` with `queue:` in settings.yaml
    plans the run and waits for the workers. Needs a PostgreSQL --db.
    """
    from zwaudit.app.fleet.worker import run_worker
    from zwaudit.db.engine import is_postgresql
    from zwaudit.errors import UsageError

    db_url = app.engine.url.render_as_string(hide_password=False)
    if not is_postgresql(db_url):
        raise UsageError("zwaudit worker needs a PostgreSQL database (--db postgresql://…)")
    run_worker(
        app.config, app.sessions(), db_url=db_url, evidence_root=evidence_root(), concurrency=concurrency
    )
