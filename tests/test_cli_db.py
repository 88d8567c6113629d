"""``zwaudit db upgrade`` on both backends, through the real console entry point."""

from __future__ import annotations

from click.testing import CliRunner

from zwaudit.app.cli import cli


def test_db_upgrade_twice_changes_nothing(db_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["db", "upgrade", "--db", db_url])
    assert first.exit_code == 0, first.output
    assert "upgraded empty -> 0" in first.output
    second = runner.invoke(cli, ["db", "upgrade", "--db", db_url])
    assert second.exit_code == 0, second.output
    assert "already at revision" in second.output
    current = runner.invoke(cli, ["db", "current", "--db", db_url])
    assert current.output.strip() == first.output.strip().rsplit(" -> ", 1)[1].split(" ")[0]


def test_bad_database_url_is_one_line_exit_2() -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--db", "not a url"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "zwaudit: error: --db: not a database URL: 'not a url'"


def test_unreachable_database_is_exit_3() -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--db", "postgresql://nobody@127.0.0.1:1/none"])
    assert result.exit_code == 3
    assert result.stderr.startswith("zwaudit: error: database ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_listed_subcommand_loads_under_its_name() -> None:
    from zwaudit.app.cli import COMMANDS

    ctx = cli.make_context("zwaudit", ["--help"], resilient_parsing=True)
    for module in COMMANDS:
        name = module.rsplit(".", 1)[1]
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
