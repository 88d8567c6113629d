"""Exceptions that the command line turns into one-line messages and exit codes."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_RUN_ERROR = 3


class ZwauditError(Exception):
    """Base class: ``str(err)`` is the one line shown to the user."""

    exit_code = EXIT_RUN_ERROR


class ConfigError(ZwauditError):
    """A configuration file is wrong. The message names the file and the key."""

    exit_code = EXIT_USAGE

    def __init__(self, file: Path | str, key: str, message: str) -> None:
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {message}")


class UsageError(ZwauditError):
    """The command was called wrongly (unknown portal, run, probe …)."""

    exit_code = EXIT_USAGE


class RunError(ZwauditError):
    """A run could not be carried out (database unreachable, sandbox failed to start …)."""

    exit_code = EXIT_RUN_ERROR
