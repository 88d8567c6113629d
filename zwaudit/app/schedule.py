"""Scheduling the nightly job: a systemd user timer + service, or a crontab line.

Everything is rendered with absolute paths (the venv's ``zwaudit``, the config directory, the
working directory that holds ``var/`` and ``out/``), because neither cron nor systemd starts in
the directory where the auditor typed the command. A database URL with a password is never
written into a unit or crontab: it belongs in the environment file the service reads.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from zwaudit.errors import UsageError

UNIT = "zwaudit-nightly"
ENV_FILE = "%h/.config/zwaudit/env"
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_at(at: str) -> tuple[int, int]:
    """``"02:00"`` → (2, 0); anything else is a usage error."""
    match = _AT.match(at.strip())
    if not match:
        raise UsageError(f"--at: expected HH:MM (24-hour), got {at!r}")
    return int(match.group(1)), int(match.group(2))


def zwaudit_executable() -> Path:
    """The ``zwaudit`` script next to this interpreter (the venv's), else the one on PATH."""
    candidate = Path(sys.executable).parent / "zwaudit"
    if candidate.exists():
        return candidate.absolute()
    found = shutil.which("zwaudit")
    if found is None:
        raise UsageError("cannot find the zwaudit executable; install zwaudit (pip install -e .) first")
    return Path(found).absolute()


@dataclass(frozen=True)
class ScheduleSpec:
    executable: Path
    workdir: Path
    at: str = "02:00"
    config_dir: Path | None = None
    db_url: str | None = None
    nightly_args: tuple[str, ...] = field(default_factory=tuple)

    def command(self) -> list[str]:
        argv = [str(self.executable), "--log-format", "json"]
        if self.config_dir is not None:
            argv += ["--config", str(self.config_dir.absolute())]
        if self.db_url and not has_password(self.db_url):
            argv += ["--db", self.db_url]
        return [*argv, "nightly", *self.nightly_args]


def has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except Exception:
        return False


def _secret_note(spec: ScheduleSpec) -> str:
    if spec.db_url and has_password(spec.db_url):
        return f"# The database URL has a password: put ZWAUDIT_DB=… in {ENV_FILE} (chmod 600), not here.\n"
    return ""


def _systemd_escape(text: str) -> str:
    """systemd expands ``%x`` specifiers in unit values; a literal ``%`` is written ``%%``."""
    return text.replace("%", "%%")


def systemd_units(spec: ScheduleSpec) -> dict[str, str]:
    """``zwaudit-nightly.service`` and ``zwaudit-nightly.timer`` for a systemd user instance."""
    hour, minute = parse_at(spec.at)
    service = (
        "[Unit]\n"
        "Description=zwaudit nightly audit of government online-service portals\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"{_secret_note(spec)}"
        f"WorkingDirectory={_systemd_escape(str(spec.workdir.absolute()))}\n"
        f"EnvironmentFile=-{ENV_FILE}\n"
        f"ExecStart={_systemd_escape(shlex.join(spec.command()))}\n"
        "# exit 1 = regressions (with --fail-on-regression), 2 = config error, 3 = run error / lock held\n"
        "Nice=10\n"
        "TimeoutStartSec=8h\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=Run {UNIT}.service every night at {hour:02d}:{minute:02d}\n\n"
        "[Timer]\n"
        f"OnCalendar=*-*-* {hour:02d}:{minute:02d}:00\n"
        "Persistent=true\n"
        "RandomizedDelaySec=5min\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{UNIT}.service": service, f"{UNIT}.timer": timer}


def crontab_line(spec: ScheduleSpec, log_file: Path) -> str:
    """One crontab line (``crontab -e``), with the JSON log lines appended to ``log_file``."""
    hour, minute = parse_at(spec.at)
    command = f"cd {shlex.quote(str(spec.workdir.absolute()))} && {shlex.join(spec.command())}"
    line = f"{minute} {hour} * * * {command} >> {shlex.quote(str(log_file.absolute()))} 2>&1"
    if "%" in line:  # cron turns an unescaped % into a newline
        line = line.replace("%", "\\%")
    note = _secret_note(spec).replace(ENV_FILE, "the crontab's environment (ZWAUDIT_DB=… above this line)")
    return note + line + "\n"


def install_systemd(units: dict[str, str], directory: Path) -> list[Path]:
    """Write the units into ``directory`` (default ``~/.config/systemd/user``); no systemctl call."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
