"""Launching the catalogue crawl: a ``python -m crawler`` subprocess per call.

The crawl runs out of process because Scrapy's Twisted reactor cannot be restarted and must not
share the audit's asyncio loop; a subprocess is also the unit a multi-machine deployment fans out.
This module is what ``zwaudit crawl`` and the audit orchestrator call::

    summary = crawl(run_id, ["sbx-shu"], config_dir=Path("config"), db_url="sqlite:///var/z.sqlite")
    summary.item_counts["sbx-shu"]  # {"portal": 120, "mobile": 118, "dept:gongan": 30}
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from zwaudit.app.faults import pause_at
from zwaudit.app.progress import ProgressSink
from zwaudit.errors import RunError
from zwaudit.paths import PROJECT_ROOT

log = logging.getLogger(__name__)

PortalDone = Callable[[str, str], None]  # (portal id, the spider's finish reason)

DRAIN_S = 30.0  # after the crawler exited: time to read the rest of its output
STOP_GRACE_S = 60.0  # after the launcher's backstop timeout: time for Scrapy's clean stop


class CrawlFailed(RunError):
    """The crawl did not finish every portal; ``summary`` tells which did (when it printed one)."""

    def __init__(self, message: str, summary: CrawlSummary | None, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.summary = summary
        self.timed_out = timed_out


@dataclass(frozen=True)
class PortalCrawlResult:
    """What the crawl of one portal stored."""

    portal_id: str
    finish_reason: str
    item_counts: Mapping[str, int]
    pages: int
    resumed: str  # new, resume (after a clean stop), restart (after a kill)


@dataclass(frozen=True)
class CrawlSummary:
    run_id: int
    portals: dict[str, PortalCrawlResult] = field(default_factory=dict)

    @property
    def item_counts(self) -> dict[str, Mapping[str, int]]:
        return {pid: r.item_counts for pid, r in self.portals.items()}


def crawl_command(
    run_id: int,
    portal_ids: list[str],
    *,
    config_dir: Path | str,
    db_url: str,
    channels: Sequence[str] = (),
) -> list[str]:
    """The subprocess command line (exposed for tests that kill it midway)."""
    cmd = [sys.executable, "-m", "crawler", "--run-id", str(run_id), "--config", str(config_dir)]
    cmd += ["--db", db_url]
    for portal_id in portal_ids:
        cmd += ["--portal", portal_id]
    for channel in channels:
        cmd += ["--channel", channel]
    return cmd


def _message(line: str, key: str) -> dict[str, Any] | None:
    """A stdout line of the crawler's as the JSON object it is, when it holds ``key`` (the
    summary's ``run_id``, a closed spider's ``portal_done``); None for any other line."""
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) and key in data else None


def parse_summary(stdout: str) -> CrawlSummary:
    """The JSON summary the subprocess prints as its last stdout line."""
    summaries = [m for line in stdout.splitlines() if (m := _message(line, "run_id")) is not None]
    if not summaries:
        raise RunError("crawl: the crawler printed no summary")
    data = summaries[-1]
    portals = {
        pid: PortalCrawlResult(
            portal_id=pid,
            finish_reason=str(info.get("finish_reason", "")),
            item_counts={str(k): int(v) for k, v in (info.get("item_counts") or {}).items()},
            pages=int(info.get("pages", 0)),
            resumed=str(info.get("state", "new")),
        )
        for pid, info in (data.get("portals") or {}).items()
    }
    return CrawlSummary(int(data["run_id"]), portals)


def crawl(
    run_id: int,
    portal_ids: list[str],
    *,
    config_dir: Path | str,
    db_url: str,
    progress: ProgressSink | None = None,
    timeout_s: float | None = None,
    channels: Sequence[str] = (),
    on_portal: PortalDone | None = None,
) -> CrawlSummary:
    """Crawl ``portal_ids`` for ``run_id`` in a subprocess; a failed crawl raises :class:`CrawlFailed`
    (a :class:`RunError` carrying the per-portal summary when the crawler printed one).

    ``channels`` limits the crawl to those channels (``portal``, ``mobile``, ``dept``,
    ``dept:<id>``; empty: all). ``on_portal(portal_id, finish_reason)`` is called (from this
    call's reader thread) as soon as each portal's spider has closed and its items are stored,
    so that a portal's checks need not wait for the slowest portal.

    Each portal's spider closes itself at its crawl deadline (``CLOSESPIDER_TIMEOUT``);
    ``timeout_s`` is the launcher's backstop for a crawler that does not stop (SIGTERM, then
    SIGKILL after :data:`STOP_GRACE_S`).
    """
    label = ",".join(portal_ids) or "all"
    if progress is not None:
        for portal_id in portal_ids:
            progress.start(portal_id, "crawl")
    started = time.monotonic()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "ZWAUDIT_CRAWL_PARENT": str(os.getpid()),  # the crawl stops if this process dies
    }
    proc = subprocess.Popen(
        crawl_command(run_id, portal_ids, config_dir=config_dir, db_url=db_url, channels=channels),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=os.getcwd(),
    )
    reader = _Reader(proc, on_portal)
    pause_at("crawl")  # fault-injection tests only (zwaudit.app.faults); a no-op otherwise
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        _stop(proc)
        stdout, stderr = reader.output()
        raise CrawlFailed(
            f"crawl of {label} timed out after {exc.timeout:.0f}s", _summary_or_none(stdout), timed_out=True
        ) from exc
    stdout, stderr = reader.output()
    if proc.returncode != 0:
        lines = [ln for ln in stderr.splitlines() if ln.startswith("crawl:")] or stderr.splitlines()
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise CrawlFailed(
            f"crawl of {label} failed: {last.removeprefix('crawl: ')}", _summary_or_none(stdout)
        )
    summary = parse_summary(stdout)
    if progress is not None:
        elapsed = time.monotonic() - started
        for portal_id, result in summary.portals.items():
            progress.finish(portal_id, "crawl", dict(result.item_counts), elapsed)
    return summary


class _Reader:
    """Reads the subprocess's stdout line by line (calling ``on_portal`` for each portal's
    ``{"portal_done": …}`` line, printed by :mod:`crawler.run` as its spider closes) and its
    stderr, each in a thread, so that neither pipe fills while the launcher waits."""

    def __init__(self, proc: subprocess.Popen[str], on_portal: PortalDone | None) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        self.on_portal = on_portal
        assert proc.stdout is not None and proc.stderr is not None
        self.threads = [
            threading.Thread(target=self._pump, args=(proc.stdout, self.out, True), daemon=True),
            threading.Thread(target=self._pump, args=(proc.stderr, self.err, False), daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _pump(self, stream: IO[str], into: list[str], announce: bool) -> None:
        on_portal = self.on_portal if announce else None
        for line in stream:
            into.append(line)
            if on_portal is not None and (done := _message(line, "portal_done")) is not None:
                portal_id, reason = str(done["portal_done"]), str(done.get("finish_reason", ""))
                try:
                    on_portal(portal_id, reason)
                except Exception:  # the caller's bookkeeping must not stop the reading
                    log.exception("crawl: on_portal(%s) failed", portal_id)

    def output(self) -> tuple[str, str]:
        """Everything read, once the process has exited. A grandchild that outlived it (a browser
        driver) may still hold a pipe open: the reading is given :data:`DRAIN_S`, not forever."""
        for thread in self.threads:
            thread.join(DRAIN_S)
        return "".join(self.out), "".join(self.err)


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (Scrapy's clean stop: the JOBDIR stays resumable), then SIGKILL after a grace."""
    proc.terminate()
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _summary_or_none(stdout: str) -> CrawlSummary | None:
    try:
        return parse_summary(stdout)
    except (RunError, ValueError, KeyError):
        return None
