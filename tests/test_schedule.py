"""``zwaudit schedule``: systemd units and crontab lines with absolute paths; no systemctl."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from zwaudit.app.cli import cli
from zwaudit.app.schedule import ScheduleSpec, crontab_line, install_systemd, parse_at, systemd_units
from zwaudit.errors import UsageError


def spec(**kw: object) -> ScheduleSpec:
    base: dict[str, object] = {"executable": Path("/opt/zw/.venv/bin/zwaudit"), "workdir": Path("/srv/zw")}
    base.update(kw)
    return ScheduleSpec(**base)  # type: ignore[arg-type]


def test_parse_at() -> None:
    assert parse_at("02:00") == (2, 0) and parse_at("7:05") == (7, 5) and parse_at("23:59") == (23, 59)
    for bad in ("24:00", "2", "02:60", "two"):
        with pytest.raises(UsageError, match="--at"):
            parse_at(bad)


def test_systemd_units() -> None:
    units = systemd_units(
        spec(
            at="03:30",
            config_dir=Path("/etc/zw cfg"),
            db_url="sqlite:////srv/zw/var/z.sqlite",
            nightly_args=("--fail-on-regression",),
        )
    )
    service, timer = units["zwaudit-nightly.service"], units["zwaudit-nightly.timer"]
    assert (
        "OnCalendar=*-*-* 03:30:00" in timer
        and "Persistent=true" in timer
        and "WantedBy=timers.target" in timer
    )
    exec_line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_line.removeprefix("ExecStart="))
    assert argv == [
        "/opt/zw/.venv/bin/zwaudit",
        "--log-format",
        "json",
        "--config",
        "/etc/zw cfg",
        "--db",
        "sqlite:////srv/zw/var/z.sqlite",
        "nightly",
        "--fail-on-regression",
    ]
    assert "WorkingDirectory=/srv/zw" in service and "Type=oneshot" in service


def test_password_never_written_and_percent_escaped() -> None:
    units = systemd_units(spec(db_url="postgresql://audit:s3cret@db/zw", workdir=Path("/srv/100%")))
    service = units["zwaudit-nightly.service"]
    assert "s3cret" not in service and "ZWAUDIT_DB" in service
    assert "WorkingDirectory=/srv/100%%" in service
    line = crontab_line(
        spec(db_url="postgresql://audit:s3cret@db/zw", workdir=Path("/srv/100%")), Path("/srv/log")
    )
    assert "s3cret" not in line and "\\%" in line


def test_crontab_line() -> None:
    line = crontab_line(spec(at="01:15"), Path("/srv/zw/var/nightly.log"))
    assert line == (
        "15 1 * * * cd /srv/zw && /opt/zw/.venv/bin/zwaudit --log-format json nightly "
        ">> /srv/zw/var/nightly.log 2>&1\n"
    )


def test_cli_install_writes_units(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["schedule", "--install", "--dir", str(tmp_path / "units"), "--at", "04:00"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == [
        "zwaudit-nightly.service",
        "zwaudit-nightly.timer",
    ]
    assert "04:00:00" in (tmp_path / "units" / "zwaudit-nightly.timer").read_text()
    printed = runner.invoke(cli, ["schedule", "--cron"])
    assert printed.exit_code == 0 and printed.output.startswith("0 2 * * * cd ")
    bad = runner.invoke(cli, ["schedule", "--cron", "--install"])
    assert bad.exit_code == 2 and "crontab -e" in bad.output


def test_install_systemd_returns_paths(tmp_path: Path) -> None:
    written = install_systemd({"a.service": "x"}, tmp_path / "d")
    assert written == [tmp_path / "d" / "a.service"] and written[0].read_text() == "x"
