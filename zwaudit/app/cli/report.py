"""``zwaudit report``: the static HTML report of a run."""

from __future__ import annotations

from pathlib import Path

import click

from zwaudit.app.cli.context import AppContext
from zwaudit.app.export import redactors_for
from zwaudit.app.report.render import write_report
from zwaudit.config import Config
from zwaudit.db.store import resolve_run
from zwaudit.errors import ZwauditError
from zwaudit.paths import out_dir


@click.command("report")
@click.option("--run", "run", default="latest", show_default=True, help="Run id or 'latest'.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for index.html and the screenshots (default: out/report).",
)
@click.option(
    "--limit",
    default=200,
    show_default=True,
    type=click.IntRange(1, 100000),
    help="Fails/errors listed per probe (the CSV has them all).",
)
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also render the first page to this PNG with headless Chromium.",
)
@click.pass_obj
def command(app: AppContext, run: str, out: Path | None, limit: int, png: Path | None) -> None:
    """Write a self-contained HTML report (works offline, no CDN) with Chinese labels."""
    sf = app.sessions()
    with sf() as session:
        run_id = resolve_run(session, run)
    config = optional_config(app)
    target = out or out_dir() / "report"
    redactors = redactors_for(config) if config else []
    html = write_report(sf, run_id, target, config=config, limit=limit, redactors=redactors)
    click.echo(f"run {run_id}: report -> {html}")
    if png is not None:
        from zwaudit.app.report.snapshot import snapshot

        executable = config.settings.browser.executable_path if config else None
        shot = snapshot(html, png, executable=executable)
        click.echo(f"first page -> {png}")
        if shot.console_errors:
            click.echo(f"warning: the report logged {len(shot.console_errors)} console errors", err=True)


def optional_config(app: AppContext) -> Config | None:
    """The config when one loads (names of frameworks, redactors); an explicit bad one is an error."""
    if app.config_dir:
        return app.config
    try:
        return app.config
    except ZwauditError:
        return None
