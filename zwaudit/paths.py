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


def run_key(db_url: str, run_id: int, started_at: datetime) -> str:
    """A short digest naming one run of one database (the URL is hashed, never written).

    Run ids restart at 1 in every database (a calibration, a test, a second deployment), so
    anything kept on disk per run (evidence, crawl resume state) is named by id *and* this key:
    run 1 of one database never overwrites, or resumes, run 1 of another.
    """
    text = f"{db_url}|{run_id}|{started_at.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]
