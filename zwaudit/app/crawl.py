"""Launching the catalogue crawl: a ``python -m crawler`` subprocess per call.

The crawl runs out of process because Scrapy's Twisted reactor cannot be restarted and must not
share the audit's asyncio loop; a subprocess is also the unit a multi-machine deployment fans out.
This module is what ``zwaudit crawl`` and the audit orchestrator call::

    summary = crawl(run_id, ["sbx-shu"], config_dir=Path("config"), db_url="sqlite:///var/z.sqlite")
    summary.item_counts["sbx-shu"]  # {"portal": 120, "mobile": 118, "dept:gongan": 30}
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zwaudit.app.faults import pause_at
from zwaudit.app.progress import ProgressSink
from zwaudit.errors import RunError
from zwaudit.paths import PROJECT_ROOT

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


def parse_summary(stdout: str) -> CrawlSummary:
    """The JSON summary the subprocess prints as its last stdout line."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RunError("crawl: the crawler printed no summary")
    data: dict[str, Any] = json.loads(lines[-1])
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
) -> CrawlSummary:
    """Crawl ``portal_ids`` for ``run_id`` in a subprocess; a failed crawl raises :class:`CrawlFailed`
    (a :class:`RunError` carrying the per-portal summary when the crawler printed one).

    ``channels`` limits the crawl to those channels (``portal``, ``mobile``, ``dept``,
    ``dept:<id>``; empty: all). Each portal's spider closes itself at its crawl deadline (``CLOSESPIDER_TIMEOUT``);
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
    pause_at("crawl")  # fault-injection tests only (zwaudit.app.faults); a no-op otherwise
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        stdout, stderr = _stop(proc)
        raise CrawlFailed(
            f"crawl of {label} timed out after {exc.timeout:.0f}s", _summary_or_none(stdout), timed_out=True
        ) from exc
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


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM (Scrapy's clean stop: the JOBDIR stays resumable), then SIGKILL after a grace."""
    proc.terminate()
    try:
        return proc.communicate(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def _summary_or_none(stdout: str) -> CrawlSummary | None:
    try:
        return parse_summary(stdout)
    except (RunError, ValueError, KeyError):
        return None
