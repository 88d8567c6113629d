"""``zwaudit crawl``: crawl the portals' catalogues and guides into the database."""

from __future__ import annotations

import click

from zwaudit.app.cli.context import AppContext
from zwaudit.app.crawl import crawl
from zwaudit.app.progress import LogProgress
from zwaudit.db.store import finish_run, start_run
from zwaudit.errors import RunError


@click.command("crawl")
@click.option("--portal", "portal_ids", multiple=True, help="Portal id (repeatable; default: all).")
@click.pass_obj
def command(app: AppContext, portal_ids: tuple[str, ...]) -> None:
    """Crawl catalogues and guides of every channel; prints item counts per channel."""
    config = app.config
    portals = config.select_portals(portal_ids)
    if not portals:
        raise RunError(f"no portals configured in {config.directory / 'portals'}")
    sessions = app.sessions()
    run_id = start_run(sessions, "crawl", config_dir=str(config.directory), portals=portals)
    try:
        summary = crawl(
            run_id,
            [p.id for p in portals],
            config_dir=config.directory,
            db_url=app.engine.url.render_as_string(hide_password=False),
            progress=LogProgress(),
        )
    except BaseException:
        finish_run(sessions, run_id, "failed")
        raise
    counts = {pid: dict(result.item_counts) for pid, result in summary.portals.items()}
    finish_run(sessions, run_id, "ok", {"item_counts": counts})
    click.echo(f"run {run_id}")
    for portal_id, result in sorted(summary.portals.items()):
        per_channel = ", ".join(f"{ch}={n}" for ch, n in sorted(result.item_counts.items())) or "no items"
        click.echo(f"{portal_id:<20} {per_channel}  ({result.pages} pages, {result.finish_reason})")
