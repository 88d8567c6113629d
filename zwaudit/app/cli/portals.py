"""``zwaudit portals``: list and validate the configured portals."""

from __future__ import annotations

import click

from zwaudit.app.cli.context import AppContext


@click.command("portals")
@click.pass_obj
def command(app: AppContext) -> None:
    """List the configured portals (validating every profile; a bad one exits 2)."""
    config = app.config
    if not config.portals:
        click.echo(f"no portals configured in {config.directory / 'portals'}")
        return
    for profile in config.select_portals(None):
        extras = []
        if profile.account:
            extras.append("account")
        if profile.departments:
            extras.append(f"{len(profile.departments)} departments")
        if profile.mobile:
            extras.append("mobile")
        suffix = f"  [{', '.join(extras)}]" if extras else ""
        click.echo(f"{profile.id:<20} {profile.name}  {profile.home_url}{suffix}")
