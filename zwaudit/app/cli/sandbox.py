"""``zwaudit sandbox serve``: the calibration portals on 127.0.0.1, in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sandbox.server import Sandbox


@click.group("sandbox")
def command() -> None:
    """The calibration sandbox: simulated provincial portals with planted defects and ground truth."""


@command.command("serve")
@click.option(
    "--province", "provinces", multiple=True, metavar="ID", help="Serve only this province (repeatable)."
)
@click.option(
    "--base-port",
    type=click.IntRange(0, 65535 - 80),
    default=28000,
    show_default=True,
    help="First port; each province takes 20 ports from here. 0 = ephemeral ports.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the CA, profiles, secrets and ground truth are written (default: var/sandbox).",
)
def serve_cmd(provinces: tuple[str, ...], base_port: int, directory: Path | None) -> None:
    """Serve the sandbox until Ctrl-C or SIGTERM; writes profiles under DIR/config/portals/."""
    from sandbox import server

    root = directory if directory is not None else server.default_directory()

    def announce(sb: Sandbox) -> None:
        for pid in sb.portal_ids:
            sites = sb.urls[pid]
            click.echo(f"{pid:<8} portal {sites['portal']}  auth {sites['auth']}  mobile {sites['mobile']}")
        click.echo(f"profiles: {sb.config_dir / 'portals'}  (audit with --config {sb.config_dir})")
        click.echo(f"ground truth: {sb.ground_truth_dir}")
        click.echo("serving on 127.0.0.1; Ctrl-C to stop", err=True)

    server.serve(list(provinces) or None, base_port, root, announce)
    click.echo("sandbox stopped", err=True)
