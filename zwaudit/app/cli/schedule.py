"""``zwaudit schedule``: print or install the nightly schedule (systemd timer or crontab)."""

from __future__ import annotations

from pathlib import Path

import click

from zwaudit.app.cli.context import AppContext
from zwaudit.app.schedule import (
    UNIT,
    ScheduleSpec,
    crontab_line,
    install_systemd,
    systemd_units,
    zwaudit_executable,
)
from zwaudit.errors import UsageError
from zwaudit.paths import var_dir


@click.command("schedule")
@click.option(
    "--systemd", "kind", flag_value="systemd", default=True, help="A systemd user timer + service (default)."
)
@click.option("--cron", "kind", flag_value="cron", help="A crontab line.")
@click.option("--at", default="02:00", show_default=True, help="Time of day (HH:MM, local time).")
@click.option("--fail-on-regression", is_flag=True, help="Schedule 'nightly --fail-on-regression'.")
@click.option("--install", is_flag=True, help="Write the systemd units (to --dir) instead of printing them.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path.home() / ".config" / "systemd" / "user",
    show_default="~/.config/systemd/user",
    help="Where --install writes the units.",
)
@click.pass_obj
def command(
    app: AppContext, kind: str, at: str, fail_on_regression: bool, install: bool, directory: Path
) -> None:
    """Print the systemd units (or crontab line) that run 'zwaudit nightly' every night, with the
    absolute paths of this installation and the current --config/--db options."""
    spec = ScheduleSpec(
        executable=zwaudit_executable(),
        workdir=Path.cwd(),
        at=at,
        config_dir=Path(app.config_dir).absolute() if app.config_dir else None,
        db_url=app.db_url,
        nightly_args=("--fail-on-regression",) if fail_on_regression else (),
    )
    if kind == "cron":
        if install:
            raise UsageError("--install writes systemd units; add the crontab line with 'crontab -e'")
        click.echo(crontab_line(spec, var_dir() / "nightly.log"), nl=False)
        return
    units = systemd_units(spec)
    if not install:
        for name, text in units.items():
            click.echo(f"# {name}\n{text}")
        return
    for path in install_systemd(units, directory):
        click.echo(f"wrote {path}")
    click.echo(f"enable with: systemctl --user daemon-reload && systemctl --user enable --now {UNIT}.timer")
