"""Where zwaudit keeps its files by default.

Everything mutable lives under ``var/`` (database, evidence, sandbox CA, locks) and reports under
``out/``, both relative to the working directory unless overridden by environment variables, so
that a deployment can point them at shared storage without code changes.
"""

from __future__ import annotations

import os
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
