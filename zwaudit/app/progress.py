"""Progress of long work (per portal and check), decoupled from how it is shown.

The orchestrators report to a :class:`ProgressSink`; the CLI picks a live terminal display when
attached to a TTY and structured log lines otherwise (under cron), so the library never prints.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, TextIO

from zwaudit.outcomes import Status

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

log = logging.getLogger("zwaudit.app.progress")


class ProgressSink(Protocol):
    def start(self, portal_id: str, stage: str) -> None:
        """A stage (a check, ``crawl``, ``score`` …) starts on a portal."""

    def finish(self, portal_id: str, stage: str, counts: Mapping[str, int], elapsed_s: float) -> None:
        """A stage ended; ``counts`` by status (pass/fail/error/…) or by channel."""


class NullProgress:
    def start(self, portal_id: str, stage: str) -> None:
        return None

    def finish(self, portal_id: str, stage: str, counts: Mapping[str, int], elapsed_s: float) -> None:
        return None


class LogProgress:
    """One structured log line per finished stage (JSON under ``--log-format json``)."""

    def start(self, portal_id: str, stage: str) -> None:
        log.debug("start %s on %s", stage, portal_id, extra={"portal": portal_id, "probe": stage})

    def finish(self, portal_id: str, stage: str, counts: Mapping[str, int], elapsed_s: float) -> None:
        summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing"
        log.info(
            "%s on %s: %s (%.1fs)",
            stage,
            portal_id,
            summary,
            elapsed_s,
            extra={
                "portal": portal_id,
                "probe": stage,
                "count": sum(counts.values()),
                "elapsed_s": round(elapsed_s, 2),
            },
        )


class RichProgress:
    """A live terminal table, one row per portal: the stage running, stages done, counts by
    status and elapsed time. Used as a context manager; thread-safe (the crawl reports from its
    own thread)."""

    STATUSES = tuple(s.value for s in Status)

    def __init__(self, console: Console | None = None, *, title: str = "zwaudit") -> None:
        from rich.console import Console as _Console

        self.console = console or _Console(stderr=True)
        self.title = title
        self._lock = threading.Lock()
        self._rows: dict[str, _PortalRow] = {}
        self._started = time.monotonic()
        self._live: Live | None = None

    def __enter__(self) -> RichProgress:
        from rich.live import Live as _Live

        self._live = _Live(self, console=self.console, refresh_per_second=4, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def _row(self, portal_id: str) -> _PortalRow:
        if portal_id not in self._rows:
            self._rows[portal_id] = _PortalRow(time.monotonic())
        return self._rows[portal_id]

    def start(self, portal_id: str, stage: str) -> None:
        with self._lock:
            self._row(portal_id).running[stage] = time.monotonic()

    def finish(self, portal_id: str, stage: str, counts: Mapping[str, int], elapsed_s: float) -> None:
        with self._lock:
            row = self._row(portal_id)
            row.running.pop(stage, None)
            row.done += 1
            for key, n in counts.items():
                row.counts[key] = row.counts.get(key, 0) + n
            row.last = time.monotonic()

    def snapshot(self) -> dict[str, dict[str, object]]:
        """The state shown, as plain data (for tests and for a final summary)."""
        with self._lock:
            return {
                pid: {"running": sorted(r.running), "done": r.done, "counts": dict(r.counts)}
                for pid, r in self._rows.items()
            }

    def __rich__(self) -> Table:
        from rich.table import Table as _Table

        now = time.monotonic()
        table = _Table(title=f"{self.title} · {now - self._started:.0f}s", expand=False)
        table.add_column("portal")
        table.add_column("running")
        table.add_column("done", justify="right")
        for status in self.STATUSES:
            table.add_column(status, justify="right")
        table.add_column("elapsed", justify="right")
        with self._lock:
            for pid in sorted(self._rows):
                row = self._rows[pid]
                running = ", ".join(f"{s} {now - t:.0f}s" for s, t in sorted(row.running.items())) or "-"
                end = now if row.running else row.last
                table.add_row(
                    pid,
                    running,
                    str(row.done),
                    *(str(row.counts.get(s, 0)) for s in self.STATUSES),
                    f"{end - row.first:.0f}s",
                )
        return table


class _PortalRow:
    def __init__(self, now: float) -> None:
        self.first = now
        self.last = now
        self.done = 0
        self.running: dict[str, float] = {}
        self.counts: dict[str, int] = {}


def progress_for_terminal(stream: TextIO | None = None) -> RichProgress | LogProgress:
    """A live display when ``stream`` (default stderr) is a terminal, log lines otherwise."""
    stream = stream or sys.stderr
    return RichProgress() if stream.isatty() else LogProgress()
