"""The ``zwaudit`` command: a thin layer over library functions.

Subcommands live one per module under :mod:`zwaudit.app.cli` and are listed in :data:`COMMANDS`;
only commands that work are listed. Errors derived from :class:`~zwaudit.errors.ZwauditError`
become one line on stderr and the exit code the error carries (2 usage/config, 3 run error).
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from zwaudit import __version__
from zwaudit.app.cli.context import AppContext
from zwaudit.errors import EXIT_RUN_ERROR, ZwauditError
from zwaudit.logs import configure_logging

COMMANDS = [
    "zwaudit.app.cli.audit",
    "zwaudit.app.cli.calibrate",
    "zwaudit.app.cli.crawl",
    "zwaudit.app.cli.db",
    "zwaudit.app.cli.diff",
    "zwaudit.app.cli.export",
    "zwaudit.app.cli.login",
    "zwaudit.app.cli.nightly",
    "zwaudit.app.cli.portals",
    "zwaudit.app.cli.rejudge",
    "zwaudit.app.cli.report",
    "zwaudit.app.cli.runs",
    "zwaudit.app.cli.sandbox",
    "zwaudit.app.cli.schedule",
    "zwaudit.app.cli.score",
    "zwaudit.app.cli.worker",
]


GLOBAL_OPTIONS_NOTE = "(also accepted before the subcommand)"


def _set_context_value(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Apply ``--config``/``--db`` given after the subcommand to the shared :class:`AppContext`.

    Auditors rerunning one probe type ``zwaudit audit --portal sc --probe x --db URL``: the
    option means the same in either place, and the later one wins.
    """
    if value is None or ctx.resilient_parsing:
        return
    app = ctx.find_object(AppContext)
    if app is not None and param.name is not None:
        setattr(app, param.name, value)


def _set_logging(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """``-v``/``--log-format`` after the subcommand: add to the group's level and re-configure."""
    if ctx.resilient_parsing or value in (None, 0):
        return
    app = ctx.find_object(AppContext)
    if app is None:
        return
    if param.name == "verbose":
        app.verbose += int(value)
    else:
        app.log_format = str(value)
    configure_logging(level=_level(app.verbose), fmt=app.log_format)


def _global_options() -> list[click.Option]:
    return [
        click.Option(
            ["--config", "config_dir"],
            type=click.Path(file_okay=False),
            expose_value=False,
            callback=_set_context_value,
            help=f"Config directory {GLOBAL_OPTIONS_NOTE}.",
        ),
        click.Option(
            ["--db", "db_url"],
            expose_value=False,
            callback=_set_context_value,
            help=f"Database URL {GLOBAL_OPTIONS_NOTE}.",
        ),
        click.Option(
            ["--log-format"],
            type=click.Choice(["text", "json"]),
            expose_value=False,
            callback=_set_logging,
            help=f"Log line format {GLOBAL_OPTIONS_NOTE}.",
        ),
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_set_logging,
            help=f"More log output {GLOBAL_OPTIONS_NOTE}.",
        ),
    ]


def _accept_global_options(command: click.Command) -> None:
    """Give ``command`` (and every subcommand of a group) the global options it does not define."""
    if getattr(command, "_zwaudit_globals", False):
        return
    taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for option in _global_options():
        if not taken.intersection(option.opts):
            command.params.append(option)
    command._zwaudit_globals = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub)


def _level(verbose: int) -> int:
    return logging.WARNING - 10 * min(verbose, 2)


class ZwauditGroup(click.Group):
    """A group that imports a subcommand only when it is run, and turns errors into one line.

    Subcommand ``X`` lives in module ``zwaudit.app.cli.X`` (listed in :data:`COMMANDS`), so
    ``zwaudit sandbox serve`` does not pay for importing Scrapy, Playwright or the scorer.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(m.rsplit(".", 1)[1] for m in COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = f"zwaudit.app.cli.{cmd_name}"
        if module not in COMMANDS:
            return None
        command: click.Command = importlib.import_module(module).command
        if command.name != cmd_name:
            raise RuntimeError(f"{module}.command is named {command.name!r}, expected {cmd_name!r}")
        _accept_global_options(command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZwauditError as exc:
            click.echo(f"zwaudit: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("zwaudit: interrupted", err=True)
            sys.exit(130)


@click.group(cls=ZwauditGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zwaudit")
@click.option(
    "--config",
    "config_dir",
    envvar="ZWAUDIT_CONFIG",
    type=click.Path(file_okay=False),
    help="Config directory (default: the project's config/). Env: ZWAUDIT_CONFIG.",
)
@click.option(
    "--db",
    "db_url",
    envvar="ZWAUDIT_DB",
    help="SQLAlchemy database URL (default: sqlite file under var/). Env: ZWAUDIT_DB.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log line format (default: text on a terminal, json otherwise).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(
    ctx: click.Context, config_dir: str | None, db_url: str | None, log_format: str | None, verbose: int
) -> None:
    """zwaudit — automated auditor of government online-service portals (政务服务网)."""
    configure_logging(level=_level(verbose), fmt=log_format)
    ctx.obj = AppContext(config_dir=config_dir, db_url=db_url, verbose=verbose, log_format=log_format)


def main() -> None:
    """Console-script entry point."""
    try:
        cli(standalone_mode=True)
    except ZwauditError as exc:  # raised before a group invoke (e.g. while parsing)
        click.echo(f"zwaudit: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # pragma: no cover - last resort, keep one line + exit 3
        logging.getLogger("zwaudit").exception("unexpected error")
        click.echo(f"zwaudit: internal error: {exc}", err=True)
        sys.exit(EXIT_RUN_ERROR)
