"""``zwaudit db``: schema management."""

from __future__ import annotations

import click

from zwaudit.app.cli.context import AppContext
from zwaudit.db.engine import current_revision, table_names, upgrade


@click.group("db")
def command() -> None:
    """Database schema management (SQLite by default, PostgreSQL for deployments)."""


@command.command("upgrade")
@click.option("--db", "db_url", help="Database URL (overrides the global --db).")
@click.pass_obj
def upgrade_cmd(app: AppContext, db_url: str | None) -> None:
    """Create or migrate the schema to the newest revision. Running it twice changes nothing."""
    if db_url:
        app.db_url = db_url
    before = current_revision(app.engine)
    upgrade(app.engine)
    after = current_revision(app.engine)
    url = app.engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{url}: already at revision {after}")
    else:
        click.echo(f"{url}: upgraded {before or 'empty'} -> {after} ({len(table_names(app.engine))} tables)")


@command.command("current")
@click.option("--db", "db_url", help="Database URL (overrides the global --db).")
@click.pass_obj
def current_cmd(app: AppContext, db_url: str | None) -> None:
    """Print the schema revision of the database."""
    if db_url:
        app.db_url = db_url
    click.echo(current_revision(app.engine) or "empty")
