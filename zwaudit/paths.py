"""Where zwaudit keeps its files by default.

Everything mutable lives under ``var/`` (database, evidence, sandbox CA, locks) and reports under
``out/``, both relative to the working directory unless overridden by environment variables, so
that a deployment can point them at shared storage without code changes.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = PROJECT_ROOT / "config"


def var_dir() -> Path:
    """The directory for mutable state (``ZWAUDIT_VAR``, default ``./var``)."""
    return Path(os.environ.get("ZWAUDIT_VAR", "var")).resolve()


def out_dir() -> Path:
    """The directory for reports and exports (``ZWAUDIT_OUT``, default ``./out``)."""
    return Path(os.environ.get("ZWAUDIT_OUT", "out")).resolve()


def evidence_root() -> Path:
    """Root of evidence files; evidence rows store paths relative to it (``ZWAUDIT_EVIDENCE``)."""
    env = os.environ.get("ZWAUDIT_EVIDENCE")
    return Path(env).resolve() if env else var_dir() / "runs"


def run_dir_name(database: str, run_id: int, started_at: datetime) -> str:
    """``run-<id>-<key>``: the on-disk name of one run of one database (evidence, crawl resume
    state); ``<key>`` is a short digest of the database's identity
    (:func:`zwaudit.db.store.database_identity`: the UUID stored at its first upgrade, not the URL,
    so every worker of a fleet agrees whatever host name it uses) and the run's start.

    Run ids restart at 1 in every database (a calibration, a test, a second deployment), so
    anything kept on disk per run is named by id *and* key: run 1 of one database never
    overwrites, or resumes, run 1 of another.
    """
    text = f"{database}|{run_id}|{started_at.isoformat()}"
    return f"run-{run_id}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
