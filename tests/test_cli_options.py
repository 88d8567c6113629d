"""Global options after the subcommand: ``zwaudit audit --portal x --db URL`` as auditors type it."""

from __future__ import annotations

import logging
from pathlib import Path

from click.testing import CliRunner

from zwaudit.app.cli import cli


def test_db_after_the_subcommand_is_the_database_used(tmp_path: Path) -> None:
    db = tmp_path / "after.sqlite"
    result = CliRunner().invoke(cli, ["runs", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert "no runs stored yet" in result.output
    assert db.exists()


def test_config_after_the_subcommand_is_the_config_read(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-config"
    before = CliRunner().invoke(cli, ["--config", str(missing), "portals"])
    after = CliRunner().invoke(cli, ["portals", "--config", str(missing)])
    assert before.exit_code == after.exit_code == 2
    assert str(missing) in after.stderr
    assert before.stderr == after.stderr


def test_the_later_db_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{first}", "runs", "--db", f"sqlite:///{second}"])
    assert result.exit_code == 0, result.output
    assert second.exists() and not first.exists()


def test_verbose_after_the_subcommand_raises_the_log_level(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["runs", "-vv", "--db", f"sqlite:///{tmp_path / 'v.sqlite'}"])
    assert result.exit_code == 0, result.output
    assert logging.getLogger().level == logging.DEBUG


def test_a_subcommands_own_option_is_kept(tmp_path: Path) -> None:
    """``db upgrade`` defines its own ``--db``; the global one is not added twice."""
    ctx = cli.make_context("zwaudit", ["--help"], resilient_parsing=True)
    db_group = cli.get_command(ctx, "db")
    assert db_group is not None
    upgrade = db_group.commands["upgrade"]  # type: ignore[attr-defined]
    assert sum("--db" in p.opts for p in upgrade.params) == 1
    assert any("--config" in p.opts for p in upgrade.params)
