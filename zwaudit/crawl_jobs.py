"""Pruning the crawl resume state (``var/crawl-jobs/run-<id>-<key>/``) of runs that are over.

Each (run, portal) crawl keeps Scrapy's ``JOBDIR`` so a cleanly stopped crawl of the *same run*
can resume. Once the run is no longer ``running`` (ok, failed, interrupted) nothing will resume it,
and a killed run never removed its directory. So at the start of every crawl
(:func:`crawler.run.main`), after runs whose process is gone are marked ``interrupted``:

- a directory of a run of *this* database (its name is recomputed from the run's id and start) is
  removed unless that run is still ``running``;
- a directory no run of this database names (another database's: a test, a calibration, a second
  deployment sharing ``var/``; or a deleted run) is removed once untouched for
  :data:`FOREIGN_MAX_AGE_S` (7 days), since that database's crawls may still be running.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from sqlalchemy.orm import Session

from zwaudit.db import models
from zwaudit.db.store import database_identity
from zwaudit.outcomes import RunStatus
from zwaudit.paths import run_dir_name, var_dir

log = logging.getLogger(__name__)

FOREIGN_MAX_AGE_S = 7 * 86400.0
_NAME = re.compile(r"run-(\d+)-[0-9a-f]{12}")


def crawl_jobs_dir() -> Path:
    return var_dir() / "crawl-jobs"


def prune_crawl_jobs(session: Session, *, keep: str = "", now: float | None = None) -> list[Path]:
    """Remove the resume directories no run will use again (see the module docstring); returns
    what was removed. ``keep`` is the run directory about to be crawled."""
    root = crawl_jobs_dir()
    if not root.is_dir():
        return []
    identity = database_identity(session)
    now = time.time() if now is None else now
    removed = []
    for child in sorted(root.iterdir()):
        match = _NAME.fullmatch(child.name)
        if match is None or child.name == keep or not child.is_dir():
            continue
        run = session.get(models.Run, int(match[1]))
        ours = run is not None and run_dir_name(identity, run.id, run.started_at) == child.name
        if ours:
            assert run is not None
            if run.status == RunStatus.RUNNING:
                continue  # may still be resumed
        elif now - child.stat().st_mtime < FOREIGN_MAX_AGE_S:
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child)
    if removed:
        log.info("pruned %d crawl resume directories of runs that are over", len(removed))
    return removed
